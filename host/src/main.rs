fn main() {
    println!(
        "sooth {}: the command line arrives with the CLI issue.",
        env!("CARGO_PKG_VERSION")
    );
}

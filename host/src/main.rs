fn main() {
    std::process::exit(sooth::cli::main());
}

//! sooth's L-BFGS on the standard unconstrained test problems, beside
//! SciPy's L-BFGS-B (m = 10, strong Wolfe, stop at |g|_inf <= 1e-5).
//!
//! `cargo run --release --example lbfgs_problems [-- --json]`; with
//! `-- --pair-precisions`, the evaluations with the curvature pairs stored
//! in f32, bfloat16 and binary16 side by side.
//!
//! The objective is computed in f64 and handed to the f32 optimizer as an
//! f64 value and an f32 gradient. Where f32 rounding of the iterate makes a
//! gradient of 1e-5 unreachable, the run stops when no step makes progress
//! and reports the gradient norm it reached.

use sooth_core::PairPrecision;
use sooth_tests::problems::{SCIPY, problems, solve, solve_with};

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let problems = problems();
    if std::env::args().any(|a| a == "--pair-precisions") {
        compare_precisions();
        return;
    }
    if !json {
        println!(
            "| problem | n | iterations | evaluations | SciPy evaluations | ratio | f | |g|_inf | converged |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    }
    for (p, &(_, _, _, scipy_evals)) in problems.iter().zip(SCIPY.iter()) {
        let o = solve(p, 1e-5);
        if json {
            println!(
                "{{\"problem\":\"{}\",\"n\":{},\"iterations\":{},\"evaluations\":{},\"f\":{:e},\"gnorm_inf\":{:e},\"converged\":{}}}",
                p.name, p.n, o.iterations, o.evaluations, o.f, o.gnorm_inf, o.converged
            );
        } else {
            println!(
                "| {} | {} | {} | {} | {} | {:.2} | {:.3e} | {:.2e} | {} |",
                p.name,
                p.n,
                o.iterations,
                o.evaluations,
                scipy_evals,
                f64::from(o.evaluations) / f64::from(scipy_evals),
                o.f,
                o.gnorm_inf,
                if o.converged { "yes" } else { "no (stalled)" }
            );
        }
    }
}

/// Evaluations (and whether `|g|_inf <= 1e-5` was reached) with each pair
/// precision, beside SciPy's.
fn compare_precisions() {
    println!("| problem | n | SciPy evaluations | f32 pairs | bf16 pairs | f16 pairs |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (p, &(_, _, _, scipy_evals)) in problems().iter().zip(SCIPY.iter()) {
        let cells: Vec<String> = PairPrecision::ALL
            .iter()
            .map(|&precision| {
                let o = solve_with(p, 1e-5, precision);
                if o.converged {
                    o.evaluations.to_string()
                } else {
                    format!("{} (stalled at {:.1e})", o.evaluations, o.gnorm_inf)
                }
            })
            .collect();
        println!(
            "| {} | {} | {} | {} |",
            p.name,
            p.n,
            scipy_evals,
            cells.join(" | ")
        );
    }
}

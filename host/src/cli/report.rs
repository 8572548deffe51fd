//! `sooth report`: a sweep directory's results as report.md, report.json
//! and plots.

use super::Finished;
use crate::cli::output::{errln, outln};
use crate::report::recommend::DEFAULT_MARGIN_POINTS;
use crate::report::response::Response;
use crate::report::{Options, write_report};
use clap::Args;
use std::path::PathBuf;

/// Flags of `sooth report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The sweep directory: runs.jsonl (required), curves.jsonl and
    /// study.json (optional). report.md, report.json and the plots are
    /// written into it.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Number of classes, for counting runs at or near chance (default:
    /// `classes` in study.json, or the built-in data set's).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..))]
    pub classes: Option<u64>,
    /// Significance level of every test, in (0, 1).
    #[arg(long, default_value_t = 0.05, value_name = "ALPHA", value_parser = parse_alpha)]
    pub alpha: f64,
    /// Write no plots (report.md then has no figures).
    #[arg(long)]
    pub no_plots: bool,
    /// The test accuracy analysed: peak (best over the epochs), selected
    /// (at the epoch with the best validation accuracy) or final (last
    /// epoch). Default: selected when every ok run has one (the study has a
    /// validation split), else peak.
    #[arg(long, value_name = "peak|selected|final", value_parser = parse_response)]
    pub response: Option<Response>,
    /// Equivalence margin of the recommendation rule, in accuracy points:
    /// a batch size steadier than the best-mean one is recommended only
    /// when shown to be within this margin of it.
    #[arg(long, value_name = "POINTS", default_value_t = DEFAULT_MARGIN_POINTS, value_parser = parse_margin)]
    pub equivalence_margin: f64,
}

/// `--response`'s value.
pub(crate) fn parse_response(s: &str) -> Result<Response, String> {
    s.parse()
}

/// `--equivalence-margin`'s value: positive points.
pub(crate) fn parse_margin(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(m) if m.is_finite() && m > 0.0 => Ok(m),
        Ok(_) => Err(format!("{s} is not positive; expected points, e.g. 0.5")),
        Err(_) => Err(format!("`{s}` is not a number; expected points, e.g. 0.5")),
    }
}

fn parse_alpha(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        Ok(_) => Err(format!("{s} is outside (0, 1); expected e.g. 0.05")),
        Err(_) => Err(format!("`{s}` is not a number; expected e.g. 0.05")),
    }
}

/// Runs `sooth report`: [`Finished::RunsFailed`] when some of the sweep's
/// runs ended in an error.
pub fn run(args: ReportArgs) -> Result<Finished, String> {
    let options = Options {
        alpha: args.alpha,
        classes: args.classes.map(|c| c as usize),
        equivalence_margin: args.equivalence_margin,
        response: args.response,
        ..Options::default()
    };
    let written = write_report(&args.dir, &options, !args.no_plots).map_err(|e| e.to_string())?;
    for w in &written.warnings {
        errln!("warning: {w}");
    }
    let a = &written.analysis;
    outln!(
        "{} runs ({} ok, {} errored) in {}",
        a.runs.total,
        a.runs.ok,
        a.runs.errored,
        args.dir.display()
    )?;
    outln!(
        "response: {} (--response {})",
        a.response.words(),
        a.response
    )?;
    let c = &written.claims;
    for (tag, claim) in [
        ("(a) batch size matters", Some(&c.batch_size_matters)),
        ("(b) full batch is worst", Some(&c.full_batch_worst)),
        (
            "(c) L-BFGS has lower variance",
            Some(&c.second_order_lower_variance),
        ),
        (
            "(d) L-BFGS is less sensitive to its hyperparameters",
            c.hyperparameter_sensitivity.as_ref(),
        ),
    ] {
        if let Some(claim) = claim {
            outln!("{tag}: {}", claim.verdict.words())?;
        }
    }
    outln!("wrote {}", written.report.display())?;
    outln!("wrote {}", written.json.display())?;
    for p in &written.plots {
        match &p.png {
            Some(png) => outln!(
                "wrote {} and {}",
                args.dir.join(png).display(),
                args.dir.join(&p.svg).display()
            )?,
            None => outln!(
                "wrote {} (no PNG: built without the `png` feature)",
                args.dir.join(&p.svg).display()
            )?,
        }
    }
    if a.runs.errored > 0 {
        errln!(
            "sooth report: {} of the {} runs in {} ended in an error (listed in {})",
            a.runs.errored,
            a.runs.total,
            args.dir.display(),
            written.report.display()
        );
    }
    Ok(Finished::with_failures(a.runs.errored))
}

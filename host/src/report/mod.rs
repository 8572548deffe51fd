//! `sooth report DIR`: a sweep's results (optimizer x batch size x seeds,
//! possibly x hyperparameter configurations) as `report.md`, `report.json`
//! and plots (SVG and PNG), written into the sweep directory.
//!
//! The pieces, usable on their own (e.g. by `sooth tune`):
//! - [`load`]: read `runs.jsonl`, `curves.jsonl`, `study.json` into a [`Sweep`];
//! - [`analyze`]: every number (cell summaries, ANOVA, variance tests,
//!   pairwise comparisons, recommendations, claim verdicts) as an
//!   [`Analysis`], computed with [`crate::stats`];
//! - [`plots::write_plots`] and [`markdown::render`]: the figures and the
//!   document;
//! - [`write_report`]: all of the above.

pub mod analysis;
pub mod load;
pub mod markdown;
pub mod plots;

#[cfg(test)]
mod tests;

pub use analysis::{Analysis, Options, analyze};
pub use load::{LoadError, Sweep, load};

use serde::Serialize;
use std::path::{Path, PathBuf};

/// The document, in the sweep directory.
pub const REPORT_FILE: &str = "report.md";
/// The numbers for programs, in the sweep directory.
pub const JSON_FILE: &str = "report.json";

/// What [`write_report`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// Path of `report.md`.
    pub report: PathBuf,
    /// Path of `report.json`.
    pub json: PathBuf,
    /// The plots (file names relative to the sweep directory).
    pub plots: Vec<plots::Plot>,
    /// The numbers.
    pub analysis: Analysis,
    /// The loader's warnings (torn lines, replaced runs, missing files).
    pub warnings: Vec<String>,
}

/// The contents of `report.json`.
#[derive(Serialize)]
struct JsonReport<'a> {
    study: &'a load::Study,
    analysis: &'a Analysis,
    plots: &'a [plots::Plot],
    warnings: &'a [String],
}

/// Reads the sweep in `dir`, analyses it and writes `report.md`,
/// `report.json` and (unless `with_plots` is false) the plots into `dir`.
///
/// # Errors
/// A message naming the file (and line) for unreadable or malformed input,
/// or a file that cannot be written.
pub fn write_report(dir: &Path, options: &Options, with_plots: bool) -> Result<Written, String> {
    let sweep = load(dir).map_err(|e| e.to_string())?;
    let analysis = analyze(&sweep, options);
    let plots = if with_plots {
        plots::write_plots(dir, &sweep, &analysis)?
    } else {
        Vec::new()
    };
    let text = markdown::render(&sweep.study, &analysis, &plots, &sweep.warnings);
    let report = dir.join(REPORT_FILE);
    std::fs::write(&report, text).map_err(|e| format!("{}: {e}", report.display()))?;
    let json = dir.join(JSON_FILE);
    let body = serde_json::to_string_pretty(&JsonReport {
        study: &sweep.study,
        analysis: &analysis,
        plots: &plots,
        warnings: &sweep.warnings,
    })
    .map_err(|e| format!("{}: {e}", json.display()))?;
    std::fs::write(&json, body + "\n").map_err(|e| format!("{}: {e}", json.display()))?;
    Ok(Written {
        report,
        json,
        plots,
        analysis,
        warnings: sweep.warnings,
    })
}

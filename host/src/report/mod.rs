//! `sooth report DIR`: a sweep's results (optimizer x batch size x seeds,
//! possibly x hyperparameter configurations) as `report.md`, `report.json`
//! and plots (SVG, and PNG with the default `png` feature), written into
//! the sweep directory.
//!
//! The layers, each usable on its own (e.g. by `sooth tune`), each
//! importing only the ones above it:
//! - [`mod@load`]: read `runs.jsonl`, `curves.jsonl`, `study.json` into a
//!   [`Sweep`];
//! - [`types`]: the numbers as types ([`Analysis`], [`Options`]);
//! - [`mod@analysis`]: [`analyze()`] computes them with [`crate::stats`] (numbers
//!   only, no prose);
//! - [`mod@format`]: numbers as text (the one p-value format);
//! - [`claims`]: [`assess`] judges the study's claims on an [`Analysis`],
//!   with plain-language evidence ([`sensitivity`]: hyperparameter
//!   sensitivity and claim (d), for studies with hyperparameter grids);
//! - [`figure`]: what every plot shares (font, palette, SVG + PNG saving);
//!   [`plots`]: the report's figures;
//! - [`markdown`]: the document, from the analysis, the claims and the
//!   plots;
//! - [`response`]: which test accuracy is analysed (`--response`);
//!   [`recommend`]: the recommendation rule (also `sooth tune`'s);
//!   [`paired`]: the tests that pair runs by seed (and their section);
//! - [`write_report`]: all of the above.

pub mod analysis;
pub mod claims;
pub mod figure;
pub mod format;
pub mod heatmap;
pub mod load;
pub mod markdown;
pub mod paired;
pub mod plots;
pub mod recommend;
pub mod response;
pub mod sensitivity;
pub mod types;

#[cfg(test)]
mod tests;

pub use analysis::analyze;
pub use claims::{Claims, assess};
pub use load::{LoadError, Sweep, load};
pub use types::{Analysis, Options};

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
    /// The claims' verdicts on them.
    pub claims: Claims,
    /// The loader's warnings (torn lines, replaced runs, missing files).
    pub warnings: Vec<String>,
}

/// Why [`write_report`] failed; each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The sweep could not be read (see [`LoadError`]).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// `--response selected` on a sweep without a validation split.
    #[error(transparent)]
    Response(#[from] response::ResponseError),
    /// A plot could not be drawn or written.
    #[error(transparent)]
    Plot(#[from] figure::PlotError),
    /// `report.md` or `report.json` could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `report.json` could not be serialised.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

/// The contents of `report.json`.
#[derive(Serialize)]
struct JsonReport<'a> {
    study: &'a load::StudyInfo,
    analysis: JsonAnalysis<'a>,
    plots: &'a [plots::Plot],
    warnings: &'a [String],
}

/// `report.json`'s `analysis` object: the [`Analysis`] with the [`Claims`]
/// between its recommendations and its notes (where they have always been).
#[derive(Serialize)]
struct JsonAnalysis<'a> {
    unit: &'a str,
    response: response::Response,
    alpha: f64,
    runs: &'a types::RunCounts,
    compute: &'a types::Compute,
    chance: &'a Option<types::ChanceRule>,
    optimizers: &'a [String],
    batch_sizes: &'a [crate::run::BatchSize],
    cells: &'a [types::Cell],
    errored_runs: &'a [types::RunRef],
    near_chance_runs: &'a [types::RunRef],
    configs: &'a [types::ConfigMeans],
    anova: &'a types::Tested<types::TwoWay>,
    one_way: &'a [types::Scoped<crate::stats::anova::OneWayAnova>],
    homogeneity: &'a [types::Homogeneity],
    pairwise: &'a [types::Pairwise],
    best_batch: &'a Option<crate::run::BatchSize>,
    kruskal_wallis: &'a [types::Scoped<crate::stats::nonparametric::KruskalWallis>],
    recommendations: &'a [types::BatchRecommendation],
    paired: &'a [paired::PairedAnalysis],
    claims: &'a Claims,
    notes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    sensitivity: &'a Option<sensitivity::Sensitivity>,
}

impl<'a> JsonAnalysis<'a> {
    fn new(a: &'a Analysis, claims: &'a Claims) -> Self {
        Self {
            unit: a.unit,
            response: a.response,
            alpha: a.alpha,
            runs: &a.runs,
            compute: &a.compute,
            chance: &a.chance,
            optimizers: &a.optimizers,
            batch_sizes: &a.batch_sizes,
            cells: &a.cells,
            errored_runs: &a.errored_runs,
            near_chance_runs: &a.near_chance_runs,
            configs: &a.configs,
            anova: &a.anova,
            one_way: &a.one_way,
            homogeneity: &a.homogeneity,
            pairwise: &a.pairwise,
            best_batch: &a.best_batch,
            kruskal_wallis: &a.kruskal_wallis,
            recommendations: &a.recommendations,
            paired: &a.paired,
            claims,
            notes: &a.notes,
            sensitivity: &a.sensitivity,
        }
    }
}

/// Reads the sweep in `dir`, analyses it, judges the claims and writes
/// `report.md`, `report.json` and (unless `with_plots` is false) the plots
/// into `dir`.
///
/// # Errors
/// [`ReportError`], naming the file (and line) for unreadable or malformed
/// input, or a file that cannot be written.
pub fn write_report(
    dir: &Path,
    options: &Options,
    with_plots: bool,
) -> Result<Written, ReportError> {
    let sweep = load(dir)?;
    let response = response::Response::resolve(
        options.response,
        sweep.runs.iter().filter_map(|r| r.metrics()),
    )?;
    let analysis = analyze(
        &sweep,
        &Options {
            response: Some(response),
            ..options.clone()
        },
    );
    let claims = assess(&analysis);
    let plots = if with_plots {
        plots::write_plots(dir, &sweep, &analysis)?
    } else {
        Vec::new()
    };
    let text = markdown::render(&sweep.study, &analysis, &claims, &plots, &sweep.warnings);
    let report = dir.join(REPORT_FILE);
    crate::atomic::write_file(&report, text.as_bytes()).map_err(|e| {
        let (path, source) = e.into_io();
        ReportError::Write { path, source }
    })?;
    let json = dir.join(JSON_FILE);
    let body = serde_json::to_string_pretty(&JsonReport {
        study: &sweep.study,
        analysis: JsonAnalysis::new(&analysis, &claims),
        plots: &plots,
        warnings: &sweep.warnings,
    })
    .map_err(|source| ReportError::Json {
        path: json.clone(),
        source,
    })?;
    crate::atomic::write_file(&json, (body + "\n").as_bytes()).map_err(|e| {
        let (path, source) = e.into_io();
        ReportError::Write { path, source }
    })?;
    Ok(Written {
        report,
        json,
        plots,
        analysis,
        claims,
        warnings: sweep.warnings,
    })
}

//! Analyses that use the pairing of runs by seed: a seed fixes a run's
//! initial weights (and batch order) in every cell, so within one optimizer
//! the runs of one (configuration, seed) across batch sizes form a *block*.
//! The ANOVA, Welch and Kruskal-Wallis tests treat the cells as independent
//! samples; these remove the seed-to-seed variation instead:
//!
//! - Friedman's rank test across the optimizer's batch sizes with the
//!   blocks (3 or more batch sizes);
//! - paired t-tests of every batch size against the best cell (highest
//!   mean), Holm-adjusted over the optimizer's family.
//!
//! A block enters a test only when it is complete for that test (an ok
//! run in every batch size compared): Friedman uses the blocks complete
//! over all the optimizer's testable batch sizes, each paired comparison
//! the blocks complete for its two cells; the counts left out are stated.
//! Also [`section`], the report's markdown for them.

use super::format::fmt_p;
use super::load::Sweep;
use super::types::{Analysis, MIN_RUNS, Tested};
use crate::run::BatchSize;
use crate::stats::paired::{Friedman, PairedT, friedman, paired_t};
use crate::stats::posthoc::{Adjust, adjust_p_values};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One batch size against the best, paired by block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedRow {
    /// The other batch size.
    pub batch_size: BatchSize,
    /// Complete pairs (blocks with an ok run in both cells).
    pub pairs: usize,
    /// Blocks with an ok run in only one of the two cells (left out).
    pub incomplete: usize,
    /// Mean of the best cell over the pairs, percent.
    pub mean_best: f64,
    /// Mean of this cell over the pairs, percent.
    pub mean_other: f64,
    /// Paired t-test of this cell minus the best (`Skipped` with fewer than
    /// 2 pairs).
    pub test: Tested<PairedT>,
    /// Holm-adjusted p over the optimizer's comparisons.
    pub p_holm: Option<f64>,
}

/// The paired analyses of one optimizer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedAnalysis {
    /// Optimizer.
    pub optimizer: String,
    /// Its batch sizes with 2+ ok runs, the treatments of Friedman's test.
    pub batch_sizes: Vec<BatchSize>,
    /// Blocks (configuration, seed) with an ok run in at least one of them.
    pub blocks: usize,
    /// Of those, complete over all of them (the blocks of Friedman's test).
    pub complete_blocks: usize,
    /// Friedman's test across the batch sizes.
    pub friedman: Tested<Friedman>,
    /// The best cell (highest mean over all its runs), the reference.
    pub best: BatchSize,
    /// Every other batch size against it.
    pub versus_best: Vec<PairedRow>,
}

/// The paired analyses of every optimizer of `a` with 2+ testable batch
/// sizes, on `a`'s response.
pub fn analyze_paired(sweep: &Sweep, a: &Analysis) -> Vec<PairedAnalysis> {
    let mut out = Vec::new();
    for optimizer in &a.optimizers {
        let batches: Vec<BatchSize> = a
            .testable_cells_of(optimizer)
            .map(|c| c.batch_size)
            .collect();
        let Some(best) = a.best_cell(optimizer).map(|c| c.batch_size) else {
            continue;
        };
        if batches.len() < 2 {
            continue;
        }
        // (config, seed) -> batch size -> response, percent.
        let mut blocks: BTreeMap<(&str, u64), BTreeMap<BatchSize, f64>> = BTreeMap::new();
        for run in sweep
            .runs
            .iter()
            .filter(|r| &r.optimizer == optimizer && batches.contains(&r.batch_size))
        {
            let Some(m) = run.metrics() else { continue };
            let Some(v) = a.response.of(m) else { continue };
            blocks
                .entry((run.config_id.as_str(), run.seed))
                .or_default()
                .insert(run.batch_size, 100.0 * v);
        }
        let complete: Vec<Vec<f64>> = blocks
            .values()
            .filter(|b| b.len() == batches.len())
            .map(|b| batches.iter().map(|x| b[x]).collect())
            .collect();
        let friedman = if batches.len() < 3 {
            Tested::skipped(format!(
                "{optimizer} has 2 batch sizes with {MIN_RUNS}+ ok runs; Friedman's test needs 3 (the paired comparison below compares the two)"
            ))
        } else if complete.len() < 2 {
            Tested::skipped(format!(
                "{} complete block(s) (an ok run of one seed and configuration in every batch size); the test needs 2",
                complete.len()
            ))
        } else {
            friedman(&complete).into()
        };
        let mut versus_best: Vec<PairedRow> = batches
            .iter()
            .filter(|&&b| b != best)
            .map(|&other| {
                let (mut x, mut y, mut incomplete) = (Vec::new(), Vec::new(), 0);
                for b in blocks.values() {
                    match (b.get(&best), b.get(&other)) {
                        (Some(&vb), Some(&vo)) => {
                            x.push(vo);
                            y.push(vb);
                        }
                        (Some(_), None) | (None, Some(_)) => incomplete += 1,
                        (None, None) => {}
                    }
                }
                let mean = |v: &[f64]| {
                    if v.is_empty() {
                        f64::NAN
                    } else {
                        v.iter().sum::<f64>() / v.len() as f64
                    }
                };
                PairedRow {
                    batch_size: other,
                    pairs: x.len(),
                    incomplete,
                    mean_best: mean(&y),
                    mean_other: mean(&x),
                    test: paired_t(&x, &y).into(),
                    p_holm: None,
                }
            })
            .collect();
        let tested: Vec<usize> = (0..versus_best.len())
            .filter(|&i| p_of(&versus_best[i]).is_some())
            .collect();
        let raw: Vec<f64> = tested
            .iter()
            .filter_map(|&i| p_of(&versus_best[i]))
            .collect();
        if let Ok(adjusted) = adjust_p_values(&raw, Adjust::Holm) {
            for (&i, p) in tested.iter().zip(adjusted) {
                versus_best[i].p_holm = Some(p);
            }
        }
        out.push(PairedAnalysis {
            optimizer: optimizer.clone(),
            batch_sizes: batches,
            blocks: blocks.len(),
            complete_blocks: complete.len(),
            friedman,
            best,
            versus_best,
        });
    }
    out
}

fn p_of(row: &PairedRow) -> Option<f64> {
    row.test.done().and_then(|t| t.p_value)
}

/// A p-value cell: bold when below `alpha`, `-` when undefined.
fn p_cell(p: Option<f64>, alpha: f64) -> String {
    match p {
        Some(p) if p < alpha => format!("**{}**", fmt_p(p)),
        Some(p) => fmt_p(p),
        None => "-".to_string(),
    }
}

/// The report's subsection on the paired analyses.
pub fn section(md: &mut String, a: &Analysis) {
    let _ = writeln!(md, "### Paired by seed\n");
    let _ = writeln!(
        md,
        "A seed fixes a run's initial weights and batch order in every cell, so within one \
         optimizer the runs of one (configuration, seed) across batch sizes are a *block*, and \
         the tests above, which treat the cells as independent, leave the seed-to-seed variation \
         in. These tests remove it. Friedman's test ranks the batch sizes within each block \
         (chi-squared approximation, tie-corrected; needs 3+ batch sizes); the paired t-tests \
         compare every batch size with the optimizer's best cell (highest mean), Holm-adjusted \
         per optimizer; difference = other - best over the pairs, in points. Only complete blocks \
         enter a test (an ok run in every cell it compares); blocks with a failed or missing run \
         are left out and counted.\n"
    );
    if a.paired.is_empty() {
        let _ = writeln!(
            md,
            "None: no optimizer has 2+ batch sizes with {MIN_RUNS}+ ok runs.\n"
        );
        return;
    }
    let _ = writeln!(
        md,
        "| optimizer | batch sizes | complete blocks | Friedman chi2 | df | p | mean ranks |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---|");
    for p in &a.paired {
        let names: Vec<String> = p.batch_sizes.iter().map(|b| b.to_string()).collect();
        let blocks = if p.complete_blocks == p.blocks {
            p.blocks.to_string()
        } else {
            format!("{} of {}", p.complete_blocks, p.blocks)
        };
        match &p.friedman {
            Tested::Done { result } => {
                let ranks: Vec<String> = names
                    .iter()
                    .zip(&result.mean_ranks)
                    .map(|(b, r)| format!("{b}: {r:.2}"))
                    .collect();
                let _ = writeln!(
                    md,
                    "| {} | {} | {blocks} | {} | {} | {} | {} |",
                    p.optimizer,
                    names.join(", "),
                    result
                        .statistic
                        .map_or_else(|| "-".to_string(), |q| format!("{q:.3}")),
                    result.df,
                    p_cell(result.p_value, a.alpha),
                    ranks.join(", ")
                );
            }
            Tested::Skipped { reason } => {
                let _ = writeln!(
                    md,
                    "| {} | {} | {blocks} | not computed: {reason} | | | |",
                    p.optimizer,
                    names.join(", ")
                );
            }
        }
    }
    md.push('\n');
    for p in &a.paired {
        let _ = writeln!(
            md,
            "**{}: paired t-tests against batch {} (best mean)**\n",
            p.optimizer, p.best
        );
        let _ = writeln!(
            md,
            "| batch | pairs | left out | mean best | mean other | difference | t | df | p | Holm p |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in &p.versus_best {
            let (t, df, p_raw) = match &r.test {
                Tested::Done { result } => (
                    result
                        .t
                        .map_or_else(|| "-".to_string(), |t| format!("{t:.3}")),
                    result.df.to_string(),
                    p_cell(result.p_value, a.alpha),
                ),
                Tested::Skipped { reason } => (
                    format!("not computed: {reason}"),
                    String::new(),
                    String::new(),
                ),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.2} | {:.2} | {:+.2} | {t} | {df} | {p_raw} | {} |",
                r.batch_size,
                r.pairs,
                r.incomplete,
                r.mean_best,
                r.mean_other,
                r.mean_other - r.mean_best,
                p_cell(r.p_holm, a.alpha)
            );
        }
        md.push('\n');
    }
}

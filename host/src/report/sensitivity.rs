//! Hyperparameter sensitivity and the study's claim (d): "at its best
//! batch size, the second-order method's accuracy depends less on its
//! hyperparameters than the first-order methods' do at theirs".
//!
//! For every optimizer with more than one configuration, [`analyze`]
//! computes:
//! - a configuration x batch size two-way ANOVA on peak accuracy over the
//!   batch sizes where every configuration has ok runs (Type II and III:
//!   they agree when every cell holds the same number of runs, and differ
//!   when failed runs left cells unbalanced; Type II is the one quoted);
//! - at the optimizer's best batch size (the highest mean over all its
//!   configurations and seeds, as in claim (c)), a one-way ANOVA over
//!   configurations and its effect size omega squared (the share of the
//!   runs' variance the configuration explains, corrected for the number of
//!   configurations), with a percentile bootstrap interval: each
//!   configuration's runs resampled with replacement
//!   ([`BOOTSTRAP_RESAMPLES`] times, seeded, so the report is the same on
//!   every run);
//! - the range and sd of the configuration means in every cell.
//!
//! [`claim`] then compares L-BFGS's omega squared with each first-order
//! method's through the bootstrap interval of their difference.

use super::claims::{Claim, ClaimVerdict};
use super::format::{fmt_num, p_text};
use super::load::Sweep;
use super::response::Response;
use super::types::{Analysis, FIRST_ORDER, SECOND_ORDER, Tested};
use crate::run::BatchSize;
use crate::stats::anova::{AnovaTable, Factor, OneWayAnova, SsType, TwoFactor, two_way};
use crate::stats::effect::{bootstrap_omega_squared, omega_squared_of, percentile_interval};
use crate::stats::{Group, StatsError, Transform, anova::one_way};
use serde::Serialize;
use std::collections::BTreeMap;

/// Bootstrap resamples behind every interval of this analysis.
pub const BOOTSTRAP_RESAMPLES: usize = 4000;

/// Seed of the first optimizer's bootstrap; the optimizer at position `i`
/// (in the report's order) uses `BOOTSTRAP_SEED + i`, so their resamples
/// are independent.
pub const BOOTSTRAP_SEED: u64 = 21;

/// Confidence of each optimizer's omega squared interval.
pub const CONFIDENCE: f64 = 0.95;

/// One hyperparameter configuration of an optimizer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigLabel {
    /// Configuration id (`h0`, ...).
    pub id: String,
    /// The full description from the runs file.
    pub description: String,
    /// A short label: the description without the optimizer's name and
    /// without the options every configuration shares.
    pub label: String,
}

/// The spread of configuration means in one (optimizer, batch size) cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigSpread {
    /// Batch size.
    pub batch_size: BatchSize,
    /// Mean peak accuracy (percent) per configuration, in
    /// [`OptimizerSensitivity::configs`] order; `None` without ok runs.
    pub means: Vec<Option<f64>>,
    /// Configurations with ok runs.
    pub configs: usize,
    /// Highest minus lowest configuration mean, points.
    pub range: f64,
    /// Sample sd of the configuration means, points (`None` with fewer than
    /// two).
    pub sd: Option<f64>,
    /// Id of the configuration with the highest mean.
    pub best: String,
    /// Id of the configuration with the lowest mean.
    pub worst: String,
}

/// The configuration x batch size two-way ANOVA of one optimizer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigByBatch {
    /// The batch sizes in the design (those where every configuration has
    /// ok runs).
    pub batch_sizes: Vec<BatchSize>,
    /// Whether every cell holds the same number of runs (then Type II and
    /// III agree).
    pub balanced: bool,
    /// Type II sums of squares.
    pub type_ii: AnovaTable,
    /// Type III sums of squares (sum-to-zero coding).
    pub type_iii: AnovaTable,
}

/// The effect of the configuration at one optimizer's best batch size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestBatchEffect {
    /// The batch size.
    pub batch_size: BatchSize,
    /// One-way ANOVA over configurations.
    pub anova: OneWayAnova,
    /// Omega squared (`None` when every run there has the same accuracy).
    pub omega_squared: Option<f64>,
    /// Its percentile bootstrap interval at [`CONFIDENCE`].
    pub interval: Option<(f64, f64)>,
    /// Bootstrap replicates with a defined omega squared (of
    /// [`BOOTSTRAP_RESAMPLES`]).
    pub defined_replicates: usize,
    /// Seed of this optimizer's bootstrap.
    pub seed: u64,
}

/// Sensitivity of one optimizer with more than one configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptimizerSensitivity {
    /// Optimizer.
    pub optimizer: String,
    /// Its configurations, in the order of the runs file.
    pub configs: Vec<ConfigLabel>,
    /// The two-way ANOVA over all (complete) batch sizes.
    pub two_way: Tested<ConfigByBatch>,
    /// Spread of configuration means, per batch size with ok runs.
    pub spread: Vec<ConfigSpread>,
    /// The effect at the best batch size.
    pub at_best: Tested<BestBatchEffect>,
}

/// L-BFGS's omega squared against another optimizer's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectComparison {
    /// The other optimizer.
    pub other: String,
    /// Whether it is a first-order method (counts for the verdict).
    pub first_order: bool,
    /// The other's omega squared minus L-BFGS's (positive: L-BFGS is less
    /// sensitive).
    pub difference: f64,
    /// Bootstrap interval of the difference, at the level in `confidence`.
    pub interval: Option<(f64, f64)>,
    /// Its confidence level: 1 - alpha / m for the m first-order
    /// comparisons (Bonferroni), 1 - alpha for the others.
    pub confidence: f64,
}

/// The sensitivity analysis (only when some optimizer has more than one
/// configuration).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sensitivity {
    /// The accuracy analysed (the report's `--response`).
    pub response: Response,
    /// Bootstrap resamples per optimizer.
    pub resamples: usize,
    /// Confidence of each optimizer's interval.
    pub confidence: f64,
    /// The optimizers with more than one configuration, in report order.
    pub optimizers: Vec<OptimizerSensitivity>,
    /// L-BFGS against every other optimizer with an effect.
    pub comparisons: Vec<EffectComparison>,
}

impl Sensitivity {
    /// The optimizer's entry, if it has more than one configuration.
    pub fn of(&self, optimizer: &str) -> Option<&OptimizerSensitivity> {
        self.optimizers.iter().find(|o| o.optimizer == optimizer)
    }
}

/// Ok runs' response values (percent) by (configuration id, batch size).
type RunsByCell = BTreeMap<(String, BatchSize), Vec<f64>>;

/// Short labels: the description inside `optimizer (...)`, without the
/// comma-separated parts every configuration shares.
fn short_labels(descriptions: &[&str]) -> Vec<String> {
    let parts: Vec<Vec<&str>> = descriptions
        .iter()
        .map(|d| {
            let inner = match (d.find('('), d.rfind(')')) {
                (Some(open), Some(close)) if open < close => &d[open + 1..close],
                _ => d,
            };
            inner.split(", ").collect()
        })
        .collect();
    parts
        .iter()
        .zip(descriptions)
        .map(|(p, d)| {
            let own: Vec<&str> = p
                .iter()
                .copied()
                .filter(|part| !parts.iter().all(|other| other.contains(part)))
                .collect();
            if own.is_empty() {
                (*d).to_string()
            } else {
                own.join(", ")
            }
        })
        .collect()
}

/// Ok runs' values of `response` (percent) of one optimizer by
/// (configuration, batch size), and its configurations in file order; runs
/// without that value are left out.
fn runs_by_config(
    sweep: &Sweep,
    optimizer: &str,
    response: Response,
) -> (Vec<ConfigLabel>, RunsByCell) {
    let mut first_line: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    let mut values: RunsByCell = BTreeMap::new();
    for run in sweep.runs.iter().filter(|r| r.optimizer == optimizer) {
        first_line
            .entry(&run.config_id)
            .or_insert((run.line, &run.config));
        if let Some(v) = run.metrics().and_then(|m| response.of(m)) {
            values
                .entry((run.config_id.clone(), run.batch_size))
                .or_default()
                .push(100.0 * v);
        }
    }
    let mut ordered: Vec<(&str, (usize, &str))> = first_line.into_iter().collect();
    ordered.sort_by_key(|(id, (line, _))| (*line, id.to_string()));
    let descriptions: Vec<&str> = ordered.iter().map(|(_, (_, d))| *d).collect();
    let labels = short_labels(&descriptions);
    let configs = ordered
        .iter()
        .zip(labels)
        .map(|((id, (_, description)), label)| ConfigLabel {
            id: id.to_string(),
            description: description.to_string(),
            label,
        })
        .collect();
    (configs, values)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn spread_at(
    configs: &[ConfigLabel],
    values: &RunsByCell,
    batch: BatchSize,
) -> Option<ConfigSpread> {
    let means: Vec<Option<f64>> = configs
        .iter()
        .map(|c| values.get(&(c.id.clone(), batch)).map(|v| mean(v)))
        .collect();
    let present: Vec<(usize, f64)> = means
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.map(|m| (i, m)))
        .collect();
    let (&(best, hi), &(worst, lo)) = (
        present.iter().max_by(|a, b| a.1.total_cmp(&b.1))?,
        present.iter().min_by(|a, b| a.1.total_cmp(&b.1))?,
    );
    let sd = (present.len() >= 2).then(|| {
        let m = present.iter().map(|p| p.1).sum::<f64>() / present.len() as f64;
        (present.iter().map(|p| (p.1 - m) * (p.1 - m)).sum::<f64>() / (present.len() - 1) as f64)
            .sqrt()
    });
    Some(ConfigSpread {
        batch_size: batch,
        configs: present.len(),
        means,
        range: hi - lo,
        sd,
        best: configs[best].id.clone(),
        worst: configs[worst].id.clone(),
    })
}

fn config_by_batch(
    configs: &[ConfigLabel],
    values: &RunsByCell,
    batch_sizes: &[BatchSize],
) -> Tested<ConfigByBatch> {
    let complete: Vec<BatchSize> = batch_sizes
        .iter()
        .copied()
        .filter(|&b| {
            configs
                .iter()
                .all(|c| values.contains_key(&(c.id.clone(), b)))
        })
        .collect();
    if complete.len() < 2 {
        return Tested::skipped(format!(
            "fewer than 2 batch sizes where every configuration has ok runs ({})",
            complete.len()
        ));
    }
    let labels: Vec<String> = complete.iter().map(|b| b.to_string()).collect();
    let table = TwoFactor::new(
        Factor::new("configuration", configs.iter().map(|c| c.id.clone())),
        Factor::new("batch size", labels.clone()),
    )
    .and_then(|mut t| {
        for c in configs {
            for (b, label) in complete.iter().zip(&labels) {
                for &y in &values[&(c.id.clone(), *b)] {
                    t.push(&c.id, label, y)?;
                }
            }
        }
        Ok(t)
    });
    let result = table.and_then(|t| {
        Ok(ConfigByBatch {
            batch_sizes: complete.clone(),
            balanced: {
                let n = t.cell(0, 0).len();
                (0..configs.len()).all(|i| (0..complete.len()).all(|j| t.cell(i, j).len() == n))
            },
            type_ii: two_way(&t, SsType::II, Transform::Identity)?,
            type_iii: two_way(&t, SsType::III, Transform::Identity)?,
        })
    });
    result.into()
}

/// Omega squared at `batch` with its bootstrap replicates.
fn effect_at(
    configs: &[ConfigLabel],
    values: &RunsByCell,
    batch: BatchSize,
    seed: u64,
) -> Result<(BestBatchEffect, Vec<Option<f64>>), StatsError> {
    let groups: Vec<Group> = configs
        .iter()
        .filter_map(|c| {
            values
                .get(&(c.id.clone(), batch))
                .map(|v| Group::new(c.id.clone(), v.clone()))
        })
        .collect();
    let anova = one_way(&groups)?;
    let replicates = bootstrap_omega_squared(&groups, BOOTSTRAP_RESAMPLES, seed)?;
    let interval = percentile_interval(&replicates, CONFIDENCE).ok();
    Ok((
        BestBatchEffect {
            batch_size: batch,
            omega_squared: omega_squared_of(&anova),
            anova,
            interval,
            defined_replicates: replicates.iter().flatten().count(),
            seed,
        },
        replicates,
    ))
}

/// The sensitivity analysis of `sweep`, or `None` when no optimizer has
/// more than one configuration. `analysis` gives the report's optimizers,
/// batch sizes, best cells and alpha.
pub fn analyze(sweep: &Sweep, analysis: &Analysis) -> Option<Sensitivity> {
    let mut optimizers = Vec::new();
    let mut replicates: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    for (position, optimizer) in analysis.optimizers.iter().enumerate() {
        let (configs, values) = runs_by_config(sweep, optimizer, analysis.response);
        if configs.len() < 2 {
            continue;
        }
        let two_way = config_by_batch(&configs, &values, &analysis.batch_sizes);
        let spread = analysis
            .batch_sizes
            .iter()
            .filter_map(|&b| spread_at(&configs, &values, b))
            .collect();
        let at_best = match analysis.best_cell(optimizer) {
            None => Tested::skipped("no batch size with 2+ ok runs"),
            Some(cell) => {
                match effect_at(
                    &configs,
                    &values,
                    cell.batch_size,
                    BOOTSTRAP_SEED + position as u64,
                ) {
                    Ok((effect, reps)) => {
                        replicates.insert(optimizer.clone(), reps);
                        Tested::Done { result: effect }
                    }
                    Err(e) => Tested::skipped(e.to_string()),
                }
            }
        };
        optimizers.push(OptimizerSensitivity {
            optimizer: optimizer.clone(),
            configs,
            two_way,
            spread,
            at_best,
        });
    }
    if optimizers.is_empty() {
        return None;
    }
    let first_order_count = optimizers
        .iter()
        .filter(|o| FIRST_ORDER.contains(&o.optimizer.as_str()) && o.at_best.done().is_some())
        .count()
        .max(1);
    let mut comparisons = Vec::new();
    let second = optimizers
        .iter()
        .find(|o| o.optimizer == SECOND_ORDER)
        .and_then(|o| o.at_best.done())
        .and_then(|e| Some((e.omega_squared?, replicates.get(SECOND_ORDER)?)));
    if let Some((w_second, reps_second)) = second {
        for o in optimizers.iter().filter(|o| o.optimizer != SECOND_ORDER) {
            let Some(w_other) = o.at_best.done().and_then(|e| e.omega_squared) else {
                continue;
            };
            let Some(reps_other) = replicates.get(&o.optimizer) else {
                continue;
            };
            let first_order = FIRST_ORDER.contains(&o.optimizer.as_str());
            let confidence = if first_order {
                1.0 - analysis.alpha / first_order_count as f64
            } else {
                1.0 - analysis.alpha
            };
            let differences: Vec<Option<f64>> = reps_other
                .iter()
                .zip(reps_second)
                .map(|(a, b)| Some((*a)? - (*b)?))
                .collect();
            comparisons.push(EffectComparison {
                other: o.optimizer.clone(),
                first_order,
                difference: w_other - w_second,
                interval: percentile_interval(&differences, confidence).ok(),
                confidence,
            });
        }
    }
    Some(Sensitivity {
        response: analysis.response,
        resamples: BOOTSTRAP_RESAMPLES,
        confidence: CONFIDENCE,
        optimizers,
        comparisons,
    })
}

/// The claim's statement.
pub const STATEMENT: &str = "At its best batch size, the second-order method's (lbfgs) accuracy \
depends less on its hyperparameters than the first-order methods' (sgd, adam) do at theirs.";

/// `w² 0.12 [0.05, 0.20] at 32` for one optimizer.
fn effect_text(o: &OptimizerSensitivity) -> String {
    match o.at_best.done() {
        Some(e) => {
            let spread = o.spread.iter().find(|s| s.batch_size == e.batch_size);
            format!(
                "{} @ {} ({} configurations): omega² = {}{}, one-way F({}, {}) {}{}",
                o.optimizer,
                e.batch_size,
                o.configs.len(),
                e.omega_squared
                    .map_or("undefined".into(), |w| format!("{w:.3}")),
                e.interval
                    .map_or(String::new(), |(lo, hi)| format!(" [{lo:.3}, {hi:.3}]")),
                e.anova.between.df,
                e.anova.within.df,
                match e.anova.between.f {
                    Some(f) => format!("= {}, {}", fmt_num(f), p_text(e.anova.between.p_value)),
                    None => "undefined".into(),
                },
                spread.map_or(String::new(), |s| format!(
                    "; configuration means span {:.2} points (sd {})",
                    s.range,
                    s.sd.map_or("-".into(), |sd| format!("{sd:.2}"))
                )),
            )
        }
        None => format!(
            "{}: not computed ({})",
            o.optimizer,
            match &o.at_best {
                Tested::Skipped { reason } => reason.as_str(),
                Tested::Done { .. } => "",
            }
        ),
    }
}

/// Claim (d) on `s`: holds when L-BFGS's omega squared at its best batch
/// size is below every first-order method's at theirs, each difference's
/// Bonferroni-adjusted bootstrap interval excluding 0.
pub fn claim(s: &Sensitivity, alpha: f64) -> Claim {
    let statement = STATEMENT.to_string();
    let not_testable = |why: String| Claim {
        statement: statement.clone(),
        verdict: ClaimVerdict::NotTestable,
        evidence: why,
    };
    let effects: Vec<String> = s.optimizers.iter().map(effect_text).collect();
    let Some(second) = s.of(SECOND_ORDER) else {
        return not_testable(format!(
            "{SECOND_ORDER} has fewer than two hyperparameter configurations in this study, so \
             its sensitivity cannot be measured. {}.",
            effects.join("; ")
        ));
    };
    if second
        .at_best
        .done()
        .and_then(|e| e.omega_squared)
        .is_none()
    {
        return not_testable(format!("{}.", effect_text(second)));
    }
    let first: Vec<&EffectComparison> = s.comparisons.iter().filter(|c| c.first_order).collect();
    if first.is_empty() {
        return not_testable(format!(
            "no first-order method (sgd, adam) has two or more configurations with an effect \
             size at its best batch size. {}.",
            effects.join("; ")
        ));
    }
    let supports = |c: &EffectComparison| c.interval.is_some_and(|(lo, _)| lo > 0.0);
    let contradicts = |c: &EffectComparison| c.interval.is_some_and(|(_, hi)| hi < 0.0);
    let n_support = first.iter().filter(|c| supports(c)).count();
    let n_contra = first.iter().filter(|c| contradicts(c)).count();
    let verdict = if n_support == first.len() {
        ClaimVerdict::Holds
    } else if n_support > 0 {
        ClaimVerdict::Partly
    } else if n_contra > 0 {
        ClaimVerdict::DoesNotHold
    } else {
        ClaimVerdict::Inconclusive
    };
    let comparisons: Vec<String> = first
        .iter()
        .map(|c| {
            let (lo, hi) = c.interval.unwrap_or((f64::NAN, f64::NAN));
            format!(
                "{} minus {SECOND_ORDER}: {:+.3} [{lo:+.3}, {hi:+.3}] ({})",
                c.other,
                c.difference,
                if supports(c) {
                    format!("{SECOND_ORDER} significantly less sensitive")
                } else if contradicts(c) {
                    format!("{SECOND_ORDER} significantly more sensitive")
                } else {
                    "the interval includes 0: no significant difference".to_string()
                }
            )
        })
        .collect();
    let level = first.first().map_or(1.0 - alpha, |c| c.confidence);
    let close = match verdict {
        ClaimVerdict::Holds => format!(
            "{SECOND_ORDER}'s configuration explains significantly less of the variance of {} \
             at its best batch size than the first-order methods' at theirs.",
            s.response.short()
        ),
        ClaimVerdict::Partly => format!(
            "{SECOND_ORDER} is significantly less sensitive than some first-order methods, not \
             all."
        ),
        ClaimVerdict::DoesNotHold => format!(
            "{SECOND_ORDER} is significantly more sensitive than a first-order method and less \
             sensitive than none."
        ),
        _ => "No difference in omega² is significant, so this data neither supports nor \
              refutes the claim."
            .to_string(),
    };
    Claim {
        statement,
        verdict,
        evidence: format!(
            "Effect of the hyperparameter configuration at each optimizer's best batch size \
             (omega², {:.0}% bootstrap interval, {} resamples): {}. Difference in omega² \
             ({:.1}% intervals, Bonferroni over {} first-order comparison(s)): {}. {close} The \
             verdict is for these grids: a wider learning-rate grid makes sgd and adam look more \
             sensitive, a narrower one around values known to work less (section 4 lists each \
             optimizer's configurations).",
            100.0 * s.confidence,
            s.resamples,
            effects.join("; "),
            100.0 * level,
            first.len(),
            comparisons.join("; "),
        ),
    }
}

/// `F(df, residual_df) = f, p = ...` of an ANOVA row.
fn f_cell(row: &crate::stats::anova::AnovaRow, residual_df: usize) -> String {
    match row.f {
        Some(f) => format!(
            "F({}, {residual_df}) = {}, {}",
            row.df,
            fmt_num(f),
            p_text(row.p_value)
        ),
        None => "undefined".to_string(),
    }
}

/// The report's section 10: claim (d)'s evidence as tables, the heatmaps
/// (`plots` named `sensitivity_<optimizer>`, embedded with `embed`) and
/// the method.
pub fn section(
    md: &mut String,
    s: &Sensitivity,
    d: &Claim,
    alpha: f64,
    plots: &[super::plots::Plot],
    embed: &dyn Fn(&mut String, Option<&super::plots::Plot>),
) {
    use std::fmt::Write as _;
    let _ = writeln!(md, "## 10. Hyperparameter sensitivity (claim d)\n");
    let _ = writeln!(
        md,
        "How much each optimizer's {} depends on its hyperparameter configuration. \
         At each optimizer's best batch size (highest mean over all its configurations and \
         seeds) a one-way ANOVA over configurations gives omega², the share of the runs' \
         variance the configuration explains (0: none beyond chance, 1: all); its interval is a \
         percentile bootstrap ({} resamples, seeded). The range and sd of the configuration \
         means say the same in points. **The answer depends on the grids**: a grid that adds a \
         hopeless learning rate makes an optimizer look more sensitive, so read it with the \
         configurations listed in section 4.\n",
        s.response.short(),
        s.resamples
    );
    let _ = writeln!(
        md,
        "**Claim (d): {} — {}.** {}\n",
        d.statement.trim_end_matches('.'),
        d.verdict.words().to_uppercase(),
        d.evidence
    );
    let _ = writeln!(
        md,
        "| optimizer | configurations | best batch | one-way ANOVA | omega² | {:.0}% interval | range of config means (points) | sd of config means |\n|---|---:|---:|---|---:|---|---:|---:|",
        100.0 * s.confidence
    );
    for o in &s.optimizers {
        match o.at_best.done() {
            Some(e) => {
                let spread = o.spread.iter().find(|x| x.batch_size == e.batch_size);
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    o.optimizer,
                    o.configs.len(),
                    e.batch_size,
                    f_cell(&e.anova.between, e.anova.within.df),
                    e.omega_squared.map_or("-".into(), |w| format!("{w:.3}")),
                    e.interval
                        .map_or("-".into(), |(lo, hi)| format!("[{lo:.3}, {hi:.3}]")),
                    spread.map_or("-".into(), |x| format!("{:.2}", x.range)),
                    spread
                        .and_then(|x| x.sd)
                        .map_or("-".into(), |sd| format!("{sd:.2}")),
                );
            }
            None => {
                let reason = match &o.at_best {
                    Tested::Skipped { reason } => reason.clone(),
                    Tested::Done { .. } => String::new(),
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | - | not computed: {reason} | - | - | - | - |",
                    o.optimizer,
                    o.configs.len()
                );
            }
        }
    }
    md.push('\n');
    if !s.comparisons.is_empty() {
        let _ = writeln!(
            md,
            "Differences in omega² (the other optimizer's minus {SECOND_ORDER}'s; positive: \
             {SECOND_ORDER} is less sensitive), from the two optimizers' bootstrap replicates \
             paired by index (independent resamples):\n\n| optimizer | difference | interval | level |\n|---|---:|---|---:|"
        );
        for c in &s.comparisons {
            let _ = writeln!(
                md,
                "| {}{} | {:+.3} | {} | {:.1}% |",
                c.other,
                if c.first_order {
                    ""
                } else {
                    " (not first-order)"
                },
                c.difference,
                c.interval
                    .map_or("-".into(), |(lo, hi)| format!("[{lo:+.3}, {hi:+.3}]")),
                100.0 * c.confidence
            );
        }
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "Configuration x batch size two-way ANOVA on {}, over the batch sizes where \
         every configuration has ok runs (Type II; Type III's p-values beside them):\n\n| optimizer | batch sizes | cells | configuration | batch size | configuration x batch size | Type III p (config, batch, interaction) |\n|---|---|---|---|---|---|---|",
        s.response.short()
    );
    for o in &s.optimizers {
        match &o.two_way {
            Tested::Done { result: t } => {
                let df = t.type_ii.residual.df;
                let cell = |r| f_cell(r, df);
                let sizes: Vec<String> = t.batch_sizes.iter().map(|b| b.to_string()).collect();
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {}, {}, {} |",
                    o.optimizer,
                    sizes.join(", "),
                    if t.balanced { "balanced" } else { "unbalanced" },
                    cell(&t.type_ii.a),
                    cell(&t.type_ii.b),
                    cell(&t.type_ii.interaction),
                    p_text(t.type_iii.a.p_value),
                    p_text(t.type_iii.b.p_value),
                    p_text(t.type_iii.interaction.p_value),
                );
            }
            Tested::Skipped { reason } => {
                let _ = writeln!(md, "| {} | not computed: {reason} | | | | | |", o.optimizer);
            }
        }
    }
    md.push('\n');
    let _ = writeln!(
        md,
        "Spread of the configuration means per cell: range (highest minus lowest mean, points) / \
         sd of the means; the best and worst configuration of each cell are in the heatmaps.\n"
    );
    let batches: Vec<BatchSize> = {
        let mut b: Vec<BatchSize> = s
            .optimizers
            .iter()
            .flat_map(|o| o.spread.iter().map(|x| x.batch_size))
            .collect();
        b.sort();
        b.dedup();
        b
    };
    let _ = write!(md, "| optimizer |");
    for b in &batches {
        let _ = write!(md, " {b} |");
    }
    let _ = write!(md, "\n|---|");
    for _ in &batches {
        md.push_str("---:|");
    }
    md.push('\n');
    for o in &s.optimizers {
        let _ = write!(md, "| {} |", o.optimizer);
        for b in &batches {
            match o.spread.iter().find(|x| x.batch_size == *b) {
                Some(x) => {
                    let _ = write!(
                        md,
                        " {:.2} / {} |",
                        x.range,
                        x.sd.map_or("-".into(), |sd| format!("{sd:.2}"))
                    );
                }
                None => md.push_str(" - |"),
            }
        }
        md.push('\n');
    }
    md.push('\n');
    for o in &s.optimizers {
        let stem = format!("{}{}.", super::heatmap::STEM_PREFIX, o.optimizer);
        embed(md, plots.iter().find(|p| p.svg.starts_with(&stem)));
    }
    let _ = writeln!(
        md,
        "Method: omega² = (SS_between - (k - 1) MS_within) / (SS_total + MS_within) over the k \
         configurations with ok runs at the best batch size; it can be slightly negative when \
         configurations differ less than seeds would make them. The bootstrap resamples every \
         configuration's runs with replacement to their own number (the configurations are \
         fixed by the design), {} times, from xoshiro256++ seeded with {} plus the optimizer's \
         position; each interval takes the replicates' percentiles (numpy's linear rule); \
         differences between two optimizers pair their replicates by index, and their intervals \
         are Bonferroni-adjusted over the first-order comparisons (alpha = {alpha}). The claim \
         holds when every difference's interval lies above 0, does not hold when some lies \
         below 0 and none above, holds partly when some but not all lie above, and is \
         inconclusive otherwise. The two-way ANOVA uses Type II sums of squares; with the same \
         number of ok runs in every cell Type II and III coincide, and when failed runs leave \
         cells unbalanced they differ (both are shown); a batch size where some configuration \
         has no ok run is left out of it. Runs at or near chance stay in: they are what a \
         configuration did.\n",
        s.resamples, BOOTSTRAP_SEED
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::analysis::analyze as analyze_sweep;
    use crate::report::claims::assess;
    use crate::report::load::{Metrics, Run, RunOutcome, StudyInfo};
    use crate::report::types::Options;
    use crate::stats::effect::omega_squared;
    use std::path::PathBuf;

    /// Seed deviations of one (configuration, batch) cell: mean 0, sd 1.
    const NOISE: [f64; 5] = [-1.2649, -0.6325, 0.0, 0.6325, 1.2649];

    fn run(optimizer: &str, b: &str, config: &str, seed: u64, peak_percent: f64) -> Run {
        Run {
            run_id: format!("{optimizer}-b{b}-{config}-s{seed}"),
            optimizer: optimizer.to_string(),
            batch_size: b.parse().unwrap(),
            config_id: config.to_string(),
            config: format!("{optimizer} (opt {config}, shared 1)"),
            seed,
            outcome: RunOutcome::Ok(Metrics {
                peak_test_accuracy: peak_percent / 100.0,
                peak_epoch: Some(5),
                final_test_accuracy: peak_percent / 100.0,
                selected_test_accuracy: None,
                final_test_loss: None,
                final_train_loss: None,
                epochs: Some(10),
                evaluations: None,
                gradients: None,
                recoveries: None,
                line_search_failures: None,
                wall_seconds: None,
                train_seconds: None,
                param_hash: None,
            }),
            line: 0,
        }
    }

    /// `optimizer` with one configuration per entry of `config_means`, at
    /// batch sizes 32 (the best: +2 points) and 512, five seeds each with
    /// sd `noise`.
    fn optimizer_runs(optimizer: &str, config_means: &[f64], noise: f64) -> Vec<Run> {
        let mut runs = Vec::new();
        for (c, m) in config_means.iter().enumerate() {
            for (b, shift) in [("32", 2.0), ("512", 0.0)] {
                for (s, d) in NOISE.iter().enumerate() {
                    runs.push(run(
                        optimizer,
                        b,
                        &format!("h{c}"),
                        s as u64,
                        m + shift + noise * d,
                    ));
                }
            }
        }
        runs
    }

    fn sweep(runs: Vec<Run>) -> Sweep {
        Sweep {
            dir: PathBuf::from("synthetic"),
            study: StudyInfo {
                name: "synthetic".to_string(),
                dataset: Some("digits".to_string()),
                ..StudyInfo::default()
            },
            runs: runs
                .into_iter()
                .enumerate()
                .map(|(i, r)| Run { line: i + 1, ..r })
                .collect(),
            curves: None,
            warnings: Vec::new(),
        }
    }

    fn verdict(sgd: &[f64], adam: &[f64], lbfgs: &[f64]) -> (ClaimVerdict, Sensitivity) {
        let mut runs = optimizer_runs("sgd", sgd, 0.5);
        runs.extend(optimizer_runs("adam", adam, 0.5));
        runs.extend(optimizer_runs("lbfgs", lbfgs, 0.5));
        let a = analyze_sweep(&sweep(runs), &Options::default());
        let c = assess(&a);
        let d = c.hyperparameter_sensitivity.expect("claim (d) is there");
        (d.verdict, a.sensitivity.expect("sensitivity is there"))
    }

    #[test]
    fn flat_lbfgs_against_spread_first_order_methods_holds() {
        let (v, s) = verdict(
            &[80.0, 90.0, 95.0],
            &[85.0, 92.0, 96.0],
            &[95.0, 95.2, 94.9],
        );
        assert_eq!(v, ClaimVerdict::Holds);
        let lbfgs = s.of("lbfgs").unwrap();
        let e = lbfgs.at_best.done().unwrap();
        assert_eq!(e.batch_size.to_string(), "32");
        // The reported omega squared is the statistics engine's, on the
        // configurations' runs at batch 32.
        let groups: Vec<Group> = [95.0, 95.2, 94.9]
            .iter()
            .enumerate()
            .map(|(c, m)| {
                Group::new(
                    format!("h{c}"),
                    NOISE.iter().map(|d| m + 2.0 + 0.5 * d).collect(),
                )
            })
            .collect();
        assert_eq!(e.omega_squared, omega_squared(&groups).unwrap());
        let (lo, hi) = e.interval.unwrap();
        assert!(lo <= e.omega_squared.unwrap() && e.omega_squared.unwrap() <= hi);
        assert_eq!(e.defined_replicates, BOOTSTRAP_RESAMPLES);
        let spread = lbfgs
            .spread
            .iter()
            .find(|x| x.batch_size == e.batch_size)
            .unwrap();
        assert!((spread.range - 0.3).abs() < 1e-9, "{}", spread.range);
        assert_eq!((spread.best.as_str(), spread.worst.as_str()), ("h1", "h2"));
        assert_eq!(lbfgs.configs[1].label, "opt h1");
        let two = lbfgs.two_way.done().unwrap();
        assert!(two.balanced);
        assert_eq!(two.type_ii.a.p_value, two.type_iii.a.p_value);
        let sgd = s.comparisons.iter().find(|c| c.other == "sgd").unwrap();
        assert!(sgd.first_order && sgd.difference > 0.5 && sgd.interval.unwrap().0 > 0.0);
        assert!((sgd.confidence - 0.975).abs() < 1e-12);
    }

    #[test]
    fn spread_lbfgs_against_flat_first_order_methods_does_not_hold() {
        let (v, _) = verdict(
            &[95.0, 95.2, 94.9],
            &[96.0, 95.8, 96.1],
            &[80.0, 90.0, 95.0],
        );
        assert_eq!(v, ClaimVerdict::DoesNotHold);
    }

    #[test]
    fn equally_flat_optimizers_are_inconclusive() {
        let flat = [95.0, 95.1, 94.95];
        let (v, _) = verdict(&flat, &flat, &flat);
        assert_eq!(v, ClaimVerdict::Inconclusive);
    }

    #[test]
    fn the_claim_needs_several_configurations() {
        // One configuration each: no sensitivity, no claim (d).
        let mut runs = optimizer_runs("sgd", &[90.0], 0.5);
        runs.extend(optimizer_runs("lbfgs", &[95.0], 0.5));
        let a = analyze_sweep(&sweep(runs), &Options::default());
        assert!(a.sensitivity.is_none());
        assert!(assess(&a).hyperparameter_sensitivity.is_none());
        // Several for sgd only: the claim is there, but not testable.
        let mut runs = optimizer_runs("sgd", &[80.0, 90.0], 0.5);
        runs.extend(optimizer_runs("lbfgs", &[95.0], 0.5));
        let a = analyze_sweep(&sweep(runs), &Options::default());
        let d = assess(&a).hyperparameter_sensitivity.unwrap();
        assert_eq!(d.verdict, ClaimVerdict::NotTestable);
        assert!(
            d.evidence.starts_with("lbfgs has fewer than two"),
            "{}",
            d.evidence
        );
    }

    /// A failed run leaves a cell short: the design is unbalanced and the
    /// two types of sums of squares part.
    #[test]
    fn failed_runs_unbalance_the_two_way_design() {
        let mut runs = optimizer_runs("lbfgs", &[80.0, 90.0, 95.0], 0.5);
        runs[0].outcome = RunOutcome::Error {
            message: "error: non-finite loss".to_string(),
        };
        runs[7].outcome = RunOutcome::Error {
            message: "error: non-finite loss".to_string(),
        };
        let a = analyze_sweep(&sweep(runs), &Options::default());
        let s = a.sensitivity.unwrap();
        let two = s.of("lbfgs").unwrap().two_way.done().unwrap();
        assert!(!two.balanced);
        assert_eq!(two.type_ii.residual.df, 30 - 2 - 6);
        assert_ne!(two.type_ii.b.sum_sq, two.type_iii.b.sum_sq);
    }

    #[test]
    fn labels_drop_what_every_configuration_shares() {
        let labels = short_labels(&[
            "lbfgs (m 2, wolfe c1 0.0001 c2 0.9, same-batch pairs)",
            "lbfgs (m 2, armijo c1 0.0001, same-batch pairs)",
            "lbfgs (m 5, wolfe c1 0.0001 c2 0.9, same-batch pairs)",
        ]);
        assert_eq!(
            labels,
            [
                "m 2, wolfe c1 0.0001 c2 0.9",
                "m 2, armijo c1 0.0001",
                "m 5, wolfe c1 0.0001 c2 0.9"
            ]
        );
    }
}

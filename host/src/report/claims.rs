//! The study's claims judged on an [`Analysis`]: [`assess`] gives
//! each a [`ClaimVerdict`] and a plain-language justification with the
//! p-values. The only part of the report that writes English sentences
//! about the statistics (besides the document itself, [`super::markdown`],
//! and claim (d), [`super::sensitivity`]).

use super::format::{fmt_num, p_text};
use super::types::*;
use crate::run::BatchSize;
use crate::stats::anova::{OneWayAnova, SsType};
use crate::stats::variance::{HomogeneityTest, brown_forsythe, levene};
use crate::stats::{Group, Transform};
use serde::Serialize;

/// How a claim fares on this data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimVerdict {
    /// Supported by significant tests.
    Holds,
    /// Supported for some optimizers or pairs, not all.
    Partly,
    /// Contradicted, or clearly not supported.
    DoesNotHold,
    /// The tests found no significant difference either way.
    Inconclusive,
    /// The data cannot test it (e.g. no full batch in the grid).
    NotTestable,
}

impl ClaimVerdict {
    /// The verdict in words, e.g. `does not hold`.
    pub fn words(self) -> &'static str {
        match self {
            ClaimVerdict::Holds => "holds",
            ClaimVerdict::Partly => "holds partly",
            ClaimVerdict::DoesNotHold => "does not hold",
            ClaimVerdict::Inconclusive => "inconclusive",
            ClaimVerdict::NotTestable => "not testable",
        }
    }
}

/// One claim's verdict with its plain-language justification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    /// The claim, as stated by the study.
    pub statement: String,
    /// The verdict.
    pub verdict: ClaimVerdict,
    /// Why, with the p-values.
    pub evidence: String,
}

/// Claim (b) for one optimizer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FullBatchCheck {
    /// Optimizer.
    pub optimizer: String,
    /// Mean peak accuracy of the full-batch cell.
    pub full_mean: f64,
    /// The batch size with the lowest mean.
    pub lowest: BatchSize,
    /// The batch size with the highest mean.
    pub best: BatchSize,
    /// Mean of the best cell.
    pub best_mean: f64,
    /// Holm-adjusted Welch p of full vs best (`None` if full is the best).
    pub p_holm_vs_best: Option<f64>,
    /// Full batch has the lowest mean.
    pub is_lowest: bool,
    /// Full batch is significantly below the best.
    pub significantly_below_best: bool,
}

/// Claim (c) for one other optimizer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VarianceCheck {
    /// The other optimizer.
    pub other: String,
    /// Its best (highest-mean) batch size.
    pub other_batch: BatchSize,
    /// Its variance there, percent squared.
    pub other_variance: f64,
    /// L-BFGS's best batch size.
    pub lbfgs_batch: BatchSize,
    /// L-BFGS's variance there.
    pub lbfgs_variance: f64,
    /// Brown-Forsythe between the two cells.
    pub brown_forsythe: Tested<HomogeneityTest>,
    /// Levene between the two cells.
    pub levene: Tested<HomogeneityTest>,
    /// Whether `other` is a first-order method ([`FIRST_ORDER`]), so counts
    /// for the verdict.
    pub first_order: bool,
}

/// The study's claims on this data ((d) only for studies with several
/// configurations per optimizer).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claims {
    /// (a) batch size has a significant effect on peak accuracy.
    pub batch_size_matters: Claim,
    /// (b) full batch performs worst.
    pub full_batch_worst: Claim,
    /// (c) L-BFGS has lower variance at its best batch size than the
    /// first-order methods at theirs.
    pub second_order_lower_variance: Claim,
    /// Evidence for (b), per optimizer.
    pub full_batch_checks: Vec<FullBatchCheck>,
    /// Evidence for (c), per other optimizer.
    pub variance_checks: Vec<VarianceCheck>,
    /// (d) L-BFGS depends less on its hyperparameters at its best batch size
    /// than the first-order methods at theirs; only when some optimizer has
    /// more than one configuration ([`super::sensitivity::claim`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hyperparameter_sensitivity: Option<Claim>,
}

fn f_text(row: &crate::stats::anova::AnovaRow, residual_df: usize) -> String {
    match row.f {
        Some(f) => format!(
            "F({}, {residual_df}) = {f:.2}, {}",
            row.df,
            p_text(row.p_value)
        ),
        None => "F undefined (no within-cell variation)".to_string(),
    }
}

/// Judges the study's claims (a), (b), (c) and, when `a` has a sensitivity
/// analysis, (d) on `a`, with the evidence
/// for each (the tests behind claim (c) are run here).
pub fn assess(a: &Analysis) -> Claims {
    let alpha = a.alpha;
    let significant = |p: Option<f64>| p.is_some_and(|p| p < alpha);

    // (a) batch size matters.
    let statement_a = format!(
        "Batch size has a statistically significant effect on {}.",
        a.response.words()
    );
    let claim_a = match a.anova.done() {
        Some(design) => match (
            design.table(SsType::II, Transform::Identity),
            design.table(SsType::III, Transform::Identity),
        ) {
            (Some(t2), t3) => {
                let rdf = t2.residual.df;
                let main = significant(t2.b.p_value);
                let inter = significant(t2.interaction.p_value);
                let verdict = if main || inter {
                    ClaimVerdict::Holds
                } else if t2.b.p_value.is_none() {
                    ClaimVerdict::Inconclusive
                } else {
                    ClaimVerdict::DoesNotHold
                };
                let mut evidence = format!(
                    "Two-factor ANOVA (Type II) on {}: batch size {}; optimizer x batch size interaction {}.",
                    a.response.short(),
                    f_text(&t2.b, rdf),
                    f_text(&t2.interaction, rdf)
                );
                if let Some(t3) = t3 {
                    let agree = significant(t3.b.p_value) == main
                        && significant(t3.interaction.p_value) == inter;
                    evidence.push_str(&format!(
                        " Type III: batch size {}, interaction {}{}.",
                        p_text(t3.b.p_value),
                        p_text(t3.interaction.p_value),
                        if agree {
                            " (agrees)"
                        } else {
                            " (DISAGREES with Type II at this alpha; the design is unbalanced)"
                        }
                    ));
                }
                if !design.dropped.is_empty() {
                    evidence.push_str(&format!(
                        " Left out of the ANOVA: {}.",
                        design.dropped.join("; ")
                    ));
                }
                evidence.push_str(&kruskal_sentence(a));
                Claim {
                    statement: statement_a,
                    verdict,
                    evidence,
                }
            }
            (None, _) => Claim {
                statement: statement_a,
                verdict: ClaimVerdict::NotTestable,
                evidence: "The two-factor ANOVA could not be computed (see the ANOVA section)."
                    .to_string(),
            },
        },
        None => {
            // One-way ANOVA per optimizer instead.
            let tested: Vec<(&str, &OneWayAnova)> = a
                .one_way
                .iter()
                .filter_map(|s| Some((s.at.as_str(), s.result.done()?)))
                .collect();
            if tested.is_empty() {
                Claim {
                    statement: statement_a,
                    verdict: ClaimVerdict::NotTestable,
                    evidence: format!(
                        "Neither a two-factor nor a one-way ANOVA across batch sizes could be computed: {}.",
                        match &a.anova {
                            Tested::Skipped { reason } => reason.as_str(),
                            Tested::Done { .. } => "",
                        }
                    ),
                }
            } else {
                let sig = tested
                    .iter()
                    .filter(|(_, t)| significant(t.between.p_value))
                    .count();
                let verdict = if sig == tested.len() {
                    ClaimVerdict::Holds
                } else if sig > 0 {
                    ClaimVerdict::Partly
                } else {
                    ClaimVerdict::DoesNotHold
                };
                let parts: Vec<String> = tested
                    .iter()
                    .map(|(o, t)| format!("{o}: {}", f_text(&t.between, t.within.df)))
                    .collect();
                Claim {
                    statement: statement_a,
                    verdict,
                    evidence: format!(
                        "No two-factor ANOVA: {}. One-way ANOVA across batch sizes: {}.{}",
                        match &a.anova {
                            Tested::Skipped { reason } => reason.as_str(),
                            Tested::Done { .. } => "",
                        },
                        parts.join("; "),
                        kruskal_sentence(a)
                    ),
                }
            }
        }
    };

    // (b) full batch is worst.
    let statement_b = format!(
        "Full batch performs worst (for each optimizer, the full-batch cell has the lowest mean {}, significantly below the best).",
        a.response.short()
    );
    let mut full_checks = Vec::new();
    for optimizer in &a.optimizers {
        let cells: Vec<&Cell> = a.testable_cells_of(optimizer).collect();
        let Some(full) = cells.iter().find(|c| c.batch_size == BatchSize::Full) else {
            continue;
        };
        if cells.len() < 2 {
            continue;
        }
        let (Some(best), Some(lowest)) = (
            a.best_cell(optimizer),
            cells.iter().min_by(|x, y| {
                let (mx, my) = (mean(x), mean(y));
                mx.total_cmp(&my)
            }),
        ) else {
            continue;
        };
        let (below, p) = if best.batch_size == BatchSize::Full {
            (false, None)
        } else {
            let (different, p) = significantly_different(
                a.pairwise_within(optimizer),
                &best.batch_size.to_string(),
                "full",
                alpha,
            );
            (different && mean(full) < mean(best), p)
        };
        full_checks.push(FullBatchCheck {
            optimizer: optimizer.clone(),
            full_mean: mean(full),
            lowest: lowest.batch_size,
            best: best.batch_size,
            best_mean: mean(best),
            p_holm_vs_best: p,
            is_lowest: lowest.batch_size == BatchSize::Full,
            significantly_below_best: below,
        });
    }
    let claim_b = if full_checks.is_empty() {
        Claim {
            statement: statement_b,
            verdict: ClaimVerdict::NotTestable,
            evidence: if a.batch_sizes.contains(&BatchSize::Full) {
                format!(
                    "No optimizer has a full-batch cell and another cell with {MIN_RUNS}+ ok runs."
                )
            } else {
                "The sweep has no full-batch runs.".to_string()
            },
        }
    } else {
        let holds = full_checks
            .iter()
            .filter(|c| c.is_lowest && c.significantly_below_best)
            .count();
        let none = full_checks
            .iter()
            .all(|c| !c.is_lowest && !c.significantly_below_best);
        let verdict = if holds == full_checks.len() {
            ClaimVerdict::Holds
        } else if none {
            ClaimVerdict::DoesNotHold
        } else {
            ClaimVerdict::Partly
        };
        let parts: Vec<String> = full_checks
            .iter()
            .map(|c| {
                let place = if c.best == BatchSize::Full {
                    "full batch is the BEST batch size".to_string()
                } else if c.is_lowest {
                    "full batch has the lowest mean".to_string()
                } else {
                    format!("full batch is not the lowest (batch {} is)", c.lowest)
                };
                let vs = if c.best == BatchSize::Full {
                    String::new()
                } else {
                    format!(
                        "; {:.2}% vs {:.2}% at batch {}, Holm {} ({})",
                        c.full_mean,
                        c.best_mean,
                        c.best,
                        p_text(c.p_holm_vs_best),
                        if c.significantly_below_best {
                            "significantly below the best"
                        } else {
                            "not significantly below the best"
                        }
                    )
                };
                format!("{}: {place}{vs}", c.optimizer)
            })
            .collect();
        Claim {
            statement: statement_b,
            verdict,
            evidence: format!(
                "Holds for {holds} of {} optimizer(s). {}.",
                full_checks.len(),
                parts.join(". ")
            ),
        }
    };

    // (c) L-BFGS has lower variance at its best batch size.
    let statement_c = format!(
        "The second-order method ({SECOND_ORDER}) has significantly lower variance of {} at its best batch size than the first-order methods ({}) at theirs.",
        a.response.short(),
        FIRST_ORDER.join(", ")
    );
    let mut variance_checks = Vec::new();
    if let Some(lb) = a.best_cell(SECOND_ORDER) {
        for optimizer in a.optimizers.iter().filter(|o| o.as_str() != SECOND_ORDER) {
            let Some(other) = a.best_cell(optimizer) else {
                continue;
            };
            let groups = [
                Group::new(lb.label(), lb.peak_values.clone()),
                Group::new(other.label(), other.peak_values.clone()),
            ];
            variance_checks.push(VarianceCheck {
                other: optimizer.clone(),
                other_batch: other.batch_size,
                other_variance: variance(other),
                lbfgs_batch: lb.batch_size,
                lbfgs_variance: variance(lb),
                brown_forsythe: brown_forsythe(&groups).into(),
                levene: levene(&groups).into(),
                first_order: FIRST_ORDER.contains(&optimizer.as_str()),
            });
        }
    }
    let first: Vec<&VarianceCheck> = variance_checks.iter().filter(|c| c.first_order).collect();
    let claim_c = if first.is_empty() {
        Claim {
            statement: statement_c,
            verdict: ClaimVerdict::NotTestable,
            evidence: format!(
                "Needs a {SECOND_ORDER} cell and a cell of {} with {MIN_RUNS}+ ok runs.",
                FIRST_ORDER.join(" or ")
            ),
        }
    } else {
        let bf_p = |c: &VarianceCheck| c.brown_forsythe.done().and_then(|t| t.p_value);
        let lower_sig = first
            .iter()
            .filter(|c| c.lbfgs_variance < c.other_variance && significant(bf_p(c)))
            .count();
        let higher_sig = first
            .iter()
            .filter(|c| c.lbfgs_variance > c.other_variance && significant(bf_p(c)))
            .count();
        let verdict = if higher_sig > 0 {
            ClaimVerdict::DoesNotHold
        } else if lower_sig == first.len() {
            ClaimVerdict::Holds
        } else if lower_sig > 0 {
            ClaimVerdict::Partly
        } else {
            ClaimVerdict::Inconclusive
        };
        let parts: Vec<String> = variance_checks
            .iter()
            .map(|c| {
                format!(
                    "vs {} @ {}{}: variance {} vs {} ({}), Brown-Forsythe {}, Levene {}",
                    c.other,
                    c.other_batch,
                    if c.first_order {
                        ""
                    } else {
                        " (not first-order; not part of the verdict)"
                    },
                    fmt_num(c.lbfgs_variance),
                    fmt_num(c.other_variance),
                    if c.lbfgs_variance < c.other_variance {
                        format!("{SECOND_ORDER} lower")
                    } else {
                        format!("{SECOND_ORDER} higher")
                    },
                    p_text(bf_p(c)),
                    p_text(c.levene.done().and_then(|t| t.p_value))
                )
            })
            .collect();
        let lb = &variance_checks[0];
        let missing: Vec<&str> = FIRST_ORDER
            .iter()
            .copied()
            .filter(|f| !first.iter().any(|c| c.other == *f))
            .collect();
        Claim {
            statement: statement_c,
            verdict,
            evidence: format!(
                "{SECOND_ORDER}'s best batch size is {} (highest mean). {}.{}{}",
                lb.lbfgs_batch,
                parts.join("; "),
                variance_conclusion(verdict, &first, alpha),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(
                        " Not compared (no cell with {MIN_RUNS}+ ok runs): {}.",
                        missing.join(", ")
                    )
                }
            ),
        }
    };
    Claims {
        batch_size_matters: claim_a,
        full_batch_worst: claim_b,
        second_order_lower_variance: claim_c,
        full_batch_checks: full_checks,
        variance_checks,
        hyperparameter_sensitivity: a
            .sensitivity
            .as_ref()
            .map(|s| super::sensitivity::claim(s, alpha)),
    }
}

/// The plain-language close of claim (c)'s evidence.
fn variance_conclusion(verdict: ClaimVerdict, first: &[&VarianceCheck], alpha: f64) -> String {
    let names = |pred: &dyn Fn(&VarianceCheck) -> bool| -> String {
        first
            .iter()
            .filter(|c| pred(c))
            .map(|c| c.other.as_str())
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let bf_p = |c: &VarianceCheck| c.brown_forsythe.done().and_then(|t| t.p_value);
    let significant = |c: &VarianceCheck| bf_p(c).is_some_and(|p| p < alpha);
    match verdict {
        ClaimVerdict::Inconclusive => {
            let lower = names(&|c| c.lbfgs_variance < c.other_variance);
            let higher = names(&|c| c.lbfgs_variance >= c.other_variance);
            let mut s = format!(
                " No variance difference is significant, so this data neither supports nor refutes the claim; on the point estimates {SECOND_ORDER}'s variance is"
            );
            if !lower.is_empty() {
                s.push_str(&format!(" lower than {lower}'s"));
            }
            if !lower.is_empty() && !higher.is_empty() {
                s.push_str(" and");
            }
            if !higher.is_empty() {
                s.push_str(&format!(" higher than {higher}'s"));
            }
            s.push('.');
            s
        }
        ClaimVerdict::DoesNotHold => format!(
            " {SECOND_ORDER}'s variance is significantly HIGHER than {}'s.",
            names(&|c| c.lbfgs_variance > c.other_variance && significant(c))
        ),
        ClaimVerdict::Partly => format!(
            " Significantly lower only than {}'s.",
            names(&|c| c.lbfgs_variance < c.other_variance && significant(c))
        ),
        ClaimVerdict::Holds | ClaimVerdict::NotTestable => String::new(),
    }
}

fn mean(c: &Cell) -> f64 {
    c.peak.as_ref().map_or(f64::NAN, |s| s.mean)
}

fn variance(c: &Cell) -> f64 {
    c.peak.as_ref().and_then(|s| s.variance).unwrap_or(0.0)
}

/// " Kruskal-Wallis across batch sizes: significant for k of n optimizers (...)."
fn kruskal_sentence(a: &Analysis) -> String {
    let per: Vec<(String, Option<f64>)> = a
        .kruskal_wallis
        .iter()
        .filter(|s| s.at != "all")
        .filter_map(|s| Some((s.at.clone(), s.result.done()?.p_value)))
        .collect();
    if per.is_empty() {
        return String::new();
    }
    let sig = per
        .iter()
        .filter(|(_, p)| p.is_some_and(|p| p < a.alpha))
        .count();
    format!(
        " The rank-based check (Kruskal-Wallis across batch sizes, which does not assume normal residuals) is significant for {sig} of {} optimizer(s): {}.",
        per.len(),
        per.iter()
            .map(|(o, p)| format!("{o} {}", p_text(*p)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

//! The analysis steps: [`analyze`] turns a [`Sweep`] into an [`Analysis`]
//! (cell summaries, ANOVA, variance tests, pairwise comparisons,
//! recommendations) with the statistics engine in [`crate::stats`]. It
//! returns numbers only: the claims' verdicts and prose are
//! [`super::claims`], the document [`super::markdown`], the figures
//! [`super::plots`]. The conventions are in [`super::types`].

use super::load::{Run, RunOutcome, Sweep};
use super::recommend::Rule;
use super::response::Response;
use super::types::*;
use crate::run::BatchSize;
use crate::stats::anova::{Factor, SsType, TwoFactor, one_way, two_way};
use crate::stats::nonparametric::kruskal_wallis;
use crate::stats::posthoc::{Adjust, pairwise_welch};
use crate::stats::variance::{brown_forsythe, levene};
use crate::stats::{Group, Summary, Transform};
use std::collections::BTreeMap;

/// Display order of optimizers: the study's order, then the canonical
/// `sgd, adam, cg, lbfgs`, then by name.
fn optimizer_order(sweep: &Sweep) -> Vec<String> {
    const CANONICAL: [&str; 4] = ["sgd", "adam", "cg", "lbfgs"];
    let mut names: Vec<String> = Vec::new();
    for run in &sweep.runs {
        if !names.contains(&run.optimizer) {
            names.push(run.optimizer.clone());
        }
    }
    names.sort_by_key(|n| {
        (
            sweep
                .study
                .optimizers
                .iter()
                .position(|o| o == n)
                .unwrap_or(usize::MAX),
            CANONICAL.iter().position(|o| o == n).unwrap_or(usize::MAX),
            n.clone(),
        )
    });
    names
}

/// The class count for the near-chance rule and where it came from.
fn class_count(sweep: &Sweep, options: &Options) -> Option<(usize, String)> {
    if let Some(c) = options.classes {
        return Some((c, "--classes".into()));
    }
    if let Some(c) = sweep.study.classes {
        return Some((c, "study.json".into()));
    }
    let dataset = sweep.study.dataset.as_deref()?;
    let (base, params) = dataset.split_once(':').unwrap_or((dataset, ""));
    let explicit = params.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == "classes").then(|| v.trim().parse::<usize>().ok())?
    });
    let builtin = match base {
        "digits" => Some(10),
        "spirals" => Some(2),
        "blobs" => Some(explicit.unwrap_or(3)),
        _ => None,
    }?;
    Some((builtin, format!("the built-in data set `{base}`")))
}

fn run_ref(run: &Run, peak_percent: Option<f64>) -> RunRef {
    RunRef {
        run_id: run.run_id.clone(),
        optimizer: run.optimizer.clone(),
        batch_size: run.batch_size,
        config_id: run.config_id.clone(),
        seed: run.seed,
        peak_percent,
        status: match &run.outcome {
            RunOutcome::Error { message } => Some(message.clone()),
            RunOutcome::Ok(_) => None,
        },
    }
}

/// Computes every number of the report from `sweep`. Never fails: a test
/// that cannot run on this data is [`Tested::Skipped`] with the reason, and
/// [`Analysis::notes`] says what was left out.
pub fn analyze(sweep: &Sweep, options: &Options) -> Analysis {
    let alpha = options.alpha;
    let mut notes = Vec::new();
    let response =
        match Response::resolve(options.response, sweep.runs.iter().filter_map(Run::metrics)) {
            Ok(r) => r,
            Err(e) => {
                notes.push(format!("{e}; the report uses peak test accuracy instead."));
                Response::Peak
            }
        };
    let optimizers = optimizer_order(sweep);
    let mut batch_sizes: Vec<BatchSize> = sweep.runs.iter().map(|r| r.batch_size).collect();
    batch_sizes.sort();
    batch_sizes.dedup();

    let chance = class_count(sweep, options).map(|(classes, source)| {
        let chance_percent = 100.0 / classes.max(1) as f64;
        ChanceRule {
            classes,
            chance_percent,
            threshold_percent: chance_percent + 100.0 * options.chance_margin,
            source,
        }
    });
    if chance.is_none() {
        notes.push(
            "The number of classes is unknown (no `classes` in study.json, no built-in data set \
             name), so runs at or near chance are not counted; pass `--classes N`."
                .to_string(),
        );
    }
    let near = |peak_percent: f64| {
        chance
            .as_ref()
            .is_some_and(|c| peak_percent <= c.threshold_percent)
    };

    let mut runs = RunCounts {
        total: sweep.runs.len(),
        ok: 0,
        errored: 0,
        near_chance: 0,
    };
    let mut compute = Compute {
        wall_seconds: 0.0,
        train_seconds: 0.0,
        timed_runs: 0,
    };
    let mut errored_runs = Vec::new();
    let mut near_chance_runs = Vec::new();
    let mut cells: Vec<Cell> = Vec::new();
    for optimizer in &optimizers {
        for &batch in &batch_sizes {
            let mut cell = Cell {
                optimizer: optimizer.clone(),
                batch_size: batch,
                ok: 0,
                errored: 0,
                near_chance: 0,
                peak: None,
                final_accuracy: None,
                peak_values: Vec::new(),
                final_values: Vec::new(),
                run_ids: Vec::new(),
            };
            let mut any = false;
            for run in sweep
                .runs
                .iter()
                .filter(|r| &r.optimizer == optimizer && r.batch_size == batch)
            {
                any = true;
                match &run.outcome {
                    RunOutcome::Error { .. } => {
                        cell.errored += 1;
                        errored_runs.push(run_ref(run, None));
                    }
                    RunOutcome::Ok(m) => {
                        let peak = 100.0 * m.peak_test_accuracy;
                        cell.ok += 1;
                        cell.peak_values
                            .push(100.0 * response.of(m).unwrap_or(m.peak_test_accuracy));
                        cell.final_values.push(100.0 * m.final_test_accuracy);
                        cell.run_ids.push(run.run_id.clone());
                        if near(peak) {
                            cell.near_chance += 1;
                            near_chance_runs.push(run_ref(run, Some(peak)));
                        }
                        if let Some(w) = m.wall_seconds {
                            compute.wall_seconds += w;
                            compute.timed_runs += 1;
                        }
                        compute.train_seconds += m.train_seconds.unwrap_or(0.0);
                    }
                }
            }
            if !any {
                continue;
            }
            cell.peak = Summary::of(&cell.peak_values).ok();
            cell.final_accuracy = Summary::of(&cell.final_values).ok();
            runs.ok += cell.ok;
            runs.errored += cell.errored;
            runs.near_chance += cell.near_chance;
            match cell.ok {
                0 => notes.push(format!(
                    "Cell {} has no ok run ({} errored); it is left out of the statistics.",
                    cell.label(),
                    cell.errored
                )),
                1 => notes.push(format!(
                    "Cell {} has 1 ok run; the tests need {MIN_RUNS}+ per cell, so it is left out of them.",
                    cell.label()
                )),
                _ => {}
            }
            cells.push(cell);
        }
    }
    for optimizer in &sweep.study.optimizers {
        for size in &sweep.study.batch_sizes {
            let Ok(batch) = size.parse::<BatchSize>() else {
                continue;
            };
            if !cells
                .iter()
                .any(|c| &c.optimizer == optimizer && c.batch_size == batch)
            {
                notes.push(format!(
                    "The study's grid has cell {optimizer} @ {batch}, but runs.jsonl has no run of it."
                ));
            }
        }
    }
    if runs.errored > 0 {
        notes.push(format!(
            "{} run(s) ended with an error status; they are listed in section 3 and left out of the statistics.",
            runs.errored
        ));
    }

    let configs = config_means(sweep, response, &optimizers, &batch_sizes);
    let anova = two_factor(&cells, &optimizers, &batch_sizes);
    let testable: Vec<&Cell> = cells.iter().filter(|c| c.testable()).collect();

    let mut one_way_tests = Vec::new();
    let mut homogeneity = Vec::new();
    let mut pairwise = Vec::new();
    let mut kruskal = Vec::new();
    for optimizer in &optimizers {
        let group_cells: Vec<&Cell> = testable
            .iter()
            .copied()
            .filter(|c| &c.optimizer == optimizer)
            .collect();
        if group_cells.is_empty() {
            continue;
        }
        let groups: Vec<Group> = group_cells
            .iter()
            .map(|c| Group::new(c.batch_size.to_string(), c.peak_values.clone()))
            .collect();
        let names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
        let scope = format!("{optimizer}: across batch sizes");
        let few = |what: &str| -> String {
            format!(
                "{optimizer} has {} batch size(s) with {MIN_RUNS}+ ok runs; {what} needs 2",
                groups.len()
            )
        };
        let enough = groups.len() >= 2;
        one_way_tests.push(Scoped {
            scope: scope.clone(),
            at: optimizer.clone(),
            groups: names.clone(),
            result: if enough {
                one_way(&groups).into()
            } else {
                Tested::skipped(few("a one-way ANOVA"))
            },
        });
        homogeneity.push(homogeneity_of(
            scope.clone(),
            Across::BatchSizes,
            optimizer.clone(),
            &group_cells,
            &groups,
        ));
        pairwise.push(Pairwise {
            scope: scope.clone(),
            across: Across::BatchSizes,
            at: optimizer.clone(),
            rows: if enough {
                pair_rows(&groups)
            } else {
                Tested::skipped(few("a comparison"))
            },
        });
        kruskal.push(Scoped {
            scope,
            at: optimizer.clone(),
            groups: names,
            result: if enough {
                kruskal_wallis(&groups).into()
            } else {
                Tested::skipped(few("Kruskal-Wallis"))
            },
        });
    }
    for &batch in &batch_sizes {
        let group_cells: Vec<&Cell> = testable
            .iter()
            .copied()
            .filter(|c| c.batch_size == batch)
            .collect();
        if group_cells.len() < 2 {
            continue;
        }
        let groups: Vec<Group> = group_cells
            .iter()
            .map(|c| Group::new(c.optimizer.clone(), c.peak_values.clone()))
            .collect();
        homogeneity.push(homogeneity_of(
            format!("batch {batch}: across optimizers"),
            Across::Optimizers,
            batch.to_string(),
            &group_cells,
            &groups,
        ));
    }

    // Optimizers compared at the batch size that did best over all of them.
    let best_batch = batch_sizes
        .iter()
        .filter_map(|&b| {
            let values: Vec<f64> = testable
                .iter()
                .filter(|c| c.batch_size == b)
                .flat_map(|c| c.peak_values.iter().copied())
                .collect();
            let n = testable.iter().filter(|c| c.batch_size == b).count();
            (n >= 2).then(|| (b, values.iter().sum::<f64>() / values.len() as f64))
        })
        .fold(None::<(BatchSize, f64)>, |acc, (b, m)| match acc {
            Some((_, best)) if best >= m => acc,
            _ => Some((b, m)),
        })
        .map(|(b, _)| b);
    if let Some(batch) = best_batch {
        let groups: Vec<Group> = testable
            .iter()
            .filter(|c| c.batch_size == batch)
            .map(|c| Group::new(c.optimizer.clone(), c.peak_values.clone()))
            .collect();
        pairwise.push(Pairwise {
            scope: format!("batch {batch} (highest mean over all optimizers): across optimizers"),
            across: Across::Optimizers,
            at: batch.to_string(),
            rows: pair_rows(&groups),
        });
    }
    if testable.len() >= 2 {
        let groups: Vec<Group> = testable
            .iter()
            .map(|c| Group::new(c.label(), c.peak_values.clone()))
            .collect();
        kruskal.push(Scoped {
            scope: "all cells".to_string(),
            at: "all".to_string(),
            groups: groups.iter().map(|g| g.name.clone()).collect(),
            result: kruskal_wallis(&groups).into(),
        });
    }

    let mut analysis = Analysis {
        unit: "percent",
        response,
        alpha,
        runs,
        compute,
        chance,
        optimizers,
        batch_sizes,
        cells,
        errored_runs,
        near_chance_runs,
        configs,
        anova,
        one_way: one_way_tests,
        homogeneity,
        pairwise,
        best_batch,
        kruskal_wallis: kruskal,
        recommendations: Vec::new(),
        paired: Vec::new(),
        notes,
        sensitivity: None,
    };
    let rule = Rule::new(options.equivalence_margin, alpha).unwrap_or_default();
    analysis.sensitivity = super::sensitivity::analyze(sweep, &analysis);
    analysis.recommendations = analysis
        .optimizers
        .iter()
        .map(|o| recommend(&analysis, o, rule))
        .collect();
    analysis.paired = super::paired::analyze_paired(sweep, &analysis);
    analysis
}

fn config_means(
    sweep: &Sweep,
    response: Response,
    optimizers: &[String],
    batch_sizes: &[BatchSize],
) -> Vec<ConfigMeans> {
    let mut out = Vec::new();
    for optimizer in optimizers {
        // config id -> (description, first line)
        let mut configs: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
        for run in sweep.runs.iter().filter(|r| &r.optimizer == optimizer) {
            configs
                .entry(&run.config_id)
                .or_insert((&run.config, run.line));
        }
        if configs.len() < 2 {
            continue;
        }
        let mut ordered: Vec<(&str, (&str, usize))> = configs.into_iter().collect();
        ordered.sort_by_key(|(id, (_, line))| (*line, id.to_string()));
        for (id, (description, _)) in ordered {
            let cells = batch_sizes
                .iter()
                .filter_map(|&b| {
                    let values: Vec<f64> = sweep
                        .runs
                        .iter()
                        .filter(|r| {
                            &r.optimizer == optimizer && r.config_id == id && r.batch_size == b
                        })
                        .filter_map(|r| {
                            r.metrics()
                                .map(|m| 100.0 * response.of(m).unwrap_or(m.peak_test_accuracy))
                        })
                        .collect();
                    (!values.is_empty()).then(|| ConfigCell {
                        batch_size: b,
                        n: values.len(),
                        mean: values.iter().sum::<f64>() / values.len() as f64,
                    })
                })
                .collect();
            out.push(ConfigMeans {
                optimizer: optimizer.clone(),
                config_id: id.to_string(),
                config: description.to_string(),
                cells,
            });
        }
    }
    out
}

/// The two-factor design on testable cells; levels are dropped (the one
/// with the most empty cells first) until no cell is empty.
fn two_factor(cells: &[Cell], optimizers: &[String], batch_sizes: &[BatchSize]) -> Tested<TwoWay> {
    let mut opts: Vec<String> = optimizers.to_vec();
    let mut batches: Vec<BatchSize> = batch_sizes.to_vec();
    let has = |o: &str, b: BatchSize| {
        cells
            .iter()
            .any(|c| c.optimizer == o && c.batch_size == b && c.testable())
    };
    let runs_of = |pred: &dyn Fn(&Cell) -> bool| -> usize {
        cells.iter().filter(|c| pred(c)).map(|c| c.ok).sum()
    };
    let mut dropped = Vec::new();
    loop {
        if opts.len() < 2 || batches.len() < 2 {
            let reason = if optimizers.len() < 2 {
                format!(
                    "the sweep has {} optimizer(s); the two-factor ANOVA needs 2 or more, so one-way ANOVAs across batch sizes stand in",
                    optimizers.len()
                )
            } else if batch_sizes.len() < 2 {
                format!(
                    "the sweep has {} batch size(s); the two-factor ANOVA needs 2 or more",
                    batch_sizes.len()
                )
            } else {
                format!(
                    "too many cells lack {MIN_RUNS}+ ok runs for a complete optimizer x batch-size design ({})",
                    dropped.join("; ")
                )
            };
            return Tested::skipped(reason);
        }
        // Empty cells per level.
        let opt_holes: Vec<usize> = opts
            .iter()
            .map(|o| batches.iter().filter(|&&b| !has(o, b)).count())
            .collect();
        let batch_holes: Vec<usize> = batches
            .iter()
            .map(|&b| opts.iter().filter(|o| !has(o, b)).count())
            .collect();
        let worst_opt = opt_holes.iter().copied().max().unwrap_or(0);
        let worst_batch = batch_holes.iter().copied().max().unwrap_or(0);
        if worst_opt == 0 && worst_batch == 0 {
            break;
        }
        if worst_batch >= worst_opt {
            // Among the worst, drop the one with the fewest runs.
            let i = (0..batches.len())
                .filter(|&i| batch_holes[i] == worst_batch)
                .min_by_key(|&i| runs_of(&|c: &Cell| c.batch_size == batches[i]))
                .unwrap_or(0);
            dropped.push(format!(
                "batch size {} left out: {} of its cells have fewer than {MIN_RUNS} ok runs",
                batches[i], worst_batch
            ));
            batches.remove(i);
        } else {
            let i = (0..opts.len())
                .filter(|&i| opt_holes[i] == worst_opt)
                .min_by_key(|&i| runs_of(&|c: &Cell| c.optimizer == opts[i]))
                .unwrap_or(0);
            dropped.push(format!(
                "optimizer {} left out: {} of its cells have fewer than {MIN_RUNS} ok runs",
                opts[i], worst_opt
            ));
            opts.remove(i);
        }
    }
    let table = TwoFactor::new(
        Factor::new("optimizer", opts.iter().cloned()),
        Factor::new("batch size", batches.iter().map(|b| b.to_string())),
    )
    .and_then(|mut t| {
        for c in cells.iter().filter(|c| c.testable()) {
            if opts.contains(&c.optimizer) && batches.contains(&c.batch_size) {
                for &y in &c.peak_values {
                    t.push(&c.optimizer, &c.batch_size.to_string(), y)?;
                }
            }
        }
        Ok(t)
    });
    let table = match table {
        Ok(t) => t,
        Err(e) => return Tested::skipped(e.to_string()),
    };
    let mut tables = Vec::new();
    for transform in [Transform::Identity, Transform::Ln] {
        for ss_type in [SsType::II, SsType::III] {
            tables.push(AnovaEntry {
                ss_type,
                transform,
                result: two_way(&table, ss_type, transform).into(),
            });
        }
    }
    Tested::Done {
        result: TwoWay {
            optimizers: opts,
            batch_sizes: batches,
            dropped,
            tables,
        },
    }
}

fn homogeneity_of(
    scope: String,
    across: Across,
    at: String,
    cells: &[&Cell],
    groups: &[Group],
) -> Homogeneity {
    let few = || {
        Tested::skipped(format!(
            "{} group(s) with {MIN_RUNS}+ ok runs; the test needs 2",
            groups.len()
        ))
    };
    Homogeneity {
        scope,
        across,
        at,
        groups: groups.iter().map(|g| g.name.clone()).collect(),
        variances: cells
            .iter()
            .map(|c| c.peak.as_ref().and_then(|s| s.variance).unwrap_or(0.0))
            .collect(),
        brown_forsythe: if groups.len() >= 2 {
            brown_forsythe(groups).into()
        } else {
            few()
        },
        levene: if groups.len() >= 2 {
            levene(groups).into()
        } else {
            few()
        },
    }
}

/// Pairwise Welch with Holm and Bonferroni, merged row by row.
fn pair_rows(groups: &[Group]) -> Tested<Vec<PairRow>> {
    let holm = match pairwise_welch(groups, Adjust::Holm) {
        Ok(r) => r,
        Err(e) => return Tested::skipped(e.to_string()),
    };
    let bonferroni = match pairwise_welch(groups, Adjust::Bonferroni) {
        Ok(r) => r,
        Err(e) => return Tested::skipped(e.to_string()),
    };
    let mean_of = |name: &str| {
        groups
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.values.iter().sum::<f64>() / g.values.len() as f64)
            .unwrap_or(f64::NAN)
    };
    let rows = holm
        .comparisons
        .iter()
        .zip(&bonferroni.comparisons)
        .map(|(h, b)| PairRow {
            first: h.first.clone(),
            second: h.second.clone(),
            mean_first: mean_of(&h.first),
            mean_second: mean_of(&h.second),
            mean_difference: h.mean_difference,
            t: h.t,
            df: h.df,
            p: h.p_value,
            p_holm: h.p_adjusted,
            p_bonferroni: b.p_adjusted,
        })
        .collect();
    Tested::Done { result: rows }
}

/// The recommendation of `optimizer` by `rule` ([`super::recommend`]) over
/// its testable cells.
fn recommend(analysis: &Analysis, optimizer: &str, rule: Rule) -> BatchRecommendation {
    let cells: Vec<&Cell> = analysis.testable_cells_of(optimizer).collect();
    let samples: Vec<&[f64]> = cells.iter().map(|c| c.peak_values.as_slice()).collect();
    let Some(selection) = rule.select(&samples) else {
        return BatchRecommendation {
            optimizer: optimizer.to_string(),
            result: Tested::skipped(format!(
                "no batch size of {optimizer} has {MIN_RUNS}+ ok runs"
            )),
        };
    };
    let candidates = cells
        .iter()
        .zip(selection.scored)
        .filter_map(|(c, scored)| {
            let s = scored.summary?;
            Some(BatchCandidate {
                batch_size: c.batch_size,
                n: c.ok,
                mean: s.mean,
                sd: s.sd.unwrap_or(0.0),
                variance: s.variance.unwrap_or(0.0),
                min: s.min,
                p5: s.p5,
                difference: scored.difference.unwrap_or(0.0),
                tost: scored.tost,
                verdict: scored.verdict,
            })
        })
        .collect();
    BatchRecommendation {
        optimizer: optimizer.to_string(),
        result: Tested::Done {
            result: Pick {
                batch_size: cells[selection.pick].batch_size,
                best_mean: cells[selection.best].batch_size,
                rule,
                candidates,
            },
        },
    }
}

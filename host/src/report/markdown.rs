//! `report.md`: the [`Analysis`] as a document a researcher can present.

use super::claims::{ClaimVerdict, Claims};
use super::format::{fmt_duration, fmt_num, fmt_p};
use super::load::StudyInfo;
use super::plots::Plot;
use super::types::{Across, Analysis, Cell, MIN_RUNS, Pairwise, SECOND_ORDER, Scoped, Tested};
use crate::stats::anova::{AnovaTable, SsType};
use crate::stats::variance::HomogeneityTest;
use crate::stats::{Summary, Transform};
use std::fmt::Write;

/// A p-value cell: bold when below `alpha`, `-` when undefined.
fn p_cell(p: Option<f64>, alpha: f64) -> String {
    match p {
        Some(p) if p < alpha => format!("**{}**", fmt_p(p)),
        Some(p) => fmt_p(p),
        None => "-".to_string(),
    }
}

fn opt_num(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), fmt_num)
}

fn verdict_label(v: ClaimVerdict) -> &'static str {
    match v {
        ClaimVerdict::Holds => "HOLDS",
        ClaimVerdict::Partly => "HOLDS PARTLY",
        ClaimVerdict::DoesNotHold => "DOES NOT HOLD",
        ClaimVerdict::Inconclusive => "INCONCLUSIVE",
        ClaimVerdict::NotTestable => "NOT TESTABLE",
    }
}

/// Renders the whole report. `plots` are embedded by their PNG file names
/// (SVG when there is no PNG)
/// (relative to the sweep directory, where `report.md` is written);
/// `claims` are [`super::claims::assess`]'s verdicts on `a`; `warnings` are
/// the loader's.
pub fn render(
    study: &StudyInfo,
    a: &Analysis,
    claims: &Claims,
    plots: &[Plot],
    warnings: &[String],
) -> String {
    let mut md = String::new();
    header(&mut md, study, a);
    if study.missing_runs > 0 {
        let _ = writeln!(
            md,
            "> **Incomplete:** {} of the study's {} runs are missing from this directory{}; every \
             verdict below covers the runs that are here only (see the notes on the data).\n",
            study.missing_runs,
            study.total_runs.unwrap_or(0),
            study
                .shard
                .as_deref()
                .map(|s| format!(" (it holds shard {s})"))
                .unwrap_or_default()
        );
    }
    summary(&mut md, a, claims);
    let plot = |stem: &str| plots.iter().find(|p| p.svg.starts_with(stem));
    let embed = |md: &mut String, p: Option<&Plot>| match p {
        Some(Plot {
            title,
            svg,
            png: Some(png),
        }) => {
            let _ = writeln!(
                md,
                "![{title}]({png})\n\n<sub>Also as vector graphics: [{svg}]({svg}).</sub>\n"
            );
        }
        Some(Plot {
            title,
            svg,
            png: None,
        }) => {
            let _ = writeln!(
                md,
                "![{title}]({svg})\n\n<sub>No PNG: this sooth was built without the `png` feature.</sub>\n"
            );
        }
        None => {}
    };

    let _ = writeln!(md, "## 1. {} by cell\n", capitalized(a.response.words()));
    let _ = writeln!(
        md,
        "A cell is one optimizer at one batch size; it pools every hyperparameter configuration \
         and seed of that optimizer. n counts the ok runs; p5 is the 5th percentile.\n"
    );
    embed(&mut md, plot("peak_mean_sd"));
    summary_table(&mut md, a, |c| c.peak.as_ref(), true);
    embed(&mut md, plot("peak_variance"));
    embed(&mut md, plot("peak_cells"));

    let _ = writeln!(md, "## 2. Final test accuracy by cell\n");
    let _ = writeln!(md, "Test accuracy after the last epoch.\n");
    summary_table(&mut md, a, |c| c.final_accuracy.as_ref(), false);

    failures(&mut md, a);
    configs(&mut md, a);
    anova(&mut md, a);
    homogeneity(&mut md, a, claims);
    recommendations(&mut md, a);
    pairwise(&mut md, a);
    let _ = writeln!(md, "## 9. Learning curves\n");
    match plot("curves") {
        Some(p) => embed(&mut md, Some(p)),
        None => {
            let _ = writeln!(
                md,
                "No curves: the sweep directory has no curves.jsonl, or no cell with {MIN_RUNS}+ ok runs has curve points.\n"
            );
        }
    }
    if let (Some(s), Some(d)) = (&a.sensitivity, &claims.hyperparameter_sensitivity) {
        super::sensitivity::section(&mut md, s, d, a.alpha, plots, &embed);
    }
    notes(&mut md, a, warnings);
    method(&mut md, a);
    md
}

fn header(md: &mut String, study: &StudyInfo, a: &Analysis) {
    let _ = writeln!(md, "# Sweep report: {}\n", study.name);
    let _ = writeln!(md, "| | |\n|---|---|");
    if let Some(d) = &study.dataset {
        let _ = writeln!(md, "| Data set | {d} |");
    }
    if let Some(m) = &study.model {
        let _ = writeln!(md, "| Model | {m} |");
    }
    let _ = writeln!(md, "| Optimizers | {} |", a.optimizers.join(", "));
    let batches: Vec<String> = a.batch_sizes.iter().map(|b| b.to_string()).collect();
    let _ = writeln!(md, "| Batch sizes | {} |", batches.join(", "));
    if let Some(s) = study.seeds {
        let _ = writeln!(md, "| Seeds | {s} per configuration |");
    }
    if !study.epochs.is_empty() {
        let epochs: Vec<String> = study
            .epochs
            .iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect();
        let _ = writeln!(md, "| Epochs | {} |", epochs.join(", "));
    }
    let r = a.runs;
    let planned = match study.total_runs {
        Some(total) if study.missing_runs > 0 => {
            format!(" of {total} planned, **{} missing**", study.missing_runs)
        }
        _ => String::new(),
    };
    let _ = writeln!(
        md,
        "| Runs | {}{planned} ({} ok, {} errored){} |",
        r.total,
        r.ok,
        r.errored,
        match a.chance {
            Some(_) => format!("; {} ok run(s) at or near chance", r.near_chance),
            None => String::new(),
        }
    );
    let _ = writeln!(
        md,
        "| Compute | {} wall time summed over {} run(s) ({} in optimizer steps) |",
        fmt_duration(a.compute.wall_seconds),
        a.compute.timed_runs,
        fmt_duration(a.compute.train_seconds)
    );
    if let Some(h) = &study.config_hash {
        let _ = writeln!(md, "| Config hash | `{h}` |");
    }
    let _ = writeln!(
        md,
        "| Response | **{}**: {} (`--response {}`) |",
        a.response.words(),
        a.response.definition(),
        a.response
    );
    let _ = writeln!(
        md,
        "\nAccuracies are test-set accuracies in percent; variances are in percent squared. \
         Every statistic below is computed on the response ({}; section 2 shows the final \
         accuracy). Every test uses the significance level alpha = {}. Significant p-values are \
         in bold.\n",
        a.response.words(),
        a.alpha
    );
}

fn summary(md: &mut String, a: &Analysis, c: &Claims) {
    let _ = writeln!(md, "## Summary\n");
    for (tag, claim) in [
        ("(a)", &c.batch_size_matters),
        ("(b)", &c.full_batch_worst),
        ("(c)", &c.second_order_lower_variance),
    ]
    .into_iter()
    .chain(c.hyperparameter_sensitivity.as_ref().map(|d| ("(d)", d)))
    {
        let _ = writeln!(
            md,
            "- **{tag} {} — {}.** {}\n",
            claim.statement.trim_end_matches('.'),
            verdict_label(claim.verdict),
            claim.evidence
        );
    }
    let picks: Vec<String> = a
        .recommendations
        .iter()
        .filter_map(|r| {
            let p = r.result.done()?;
            let chosen = p.candidates.iter().find(|c| c.batch_size == p.batch_size)?;
            Some(format!(
                "{} **{}** (mean {:.2}%, sd {:.2})",
                r.optimizer, p.batch_size, chosen.mean, chosen.sd
            ))
        })
        .collect();
    if !picks.is_empty() {
        let _ = writeln!(
            md,
            "- **Recommended batch sizes** (section 7): {}.\n",
            picks.join("; ")
        );
    }
    let _ = writeln!(
        md,
        "Peak accuracy is bounded by 100% and failed runs pile up near chance, so ANOVA residuals \
         of peak accuracy are rarely normal (the study's were not). The F tests are then \
         approximate; the Kruskal-Wallis tests (section 8), which compare ranks and assume no \
         normality, are the check. Variance claims rest on Brown-Forsythe (median-centred, robust \
         to skew) rather than on Levene.\n"
    );
}

fn summary_table(
    md: &mut String,
    a: &Analysis,
    pick: impl Fn(&Cell) -> Option<&Summary>,
    with_counts: bool,
) {
    let extra = if with_counts {
        " near chance | errored |"
    } else {
        ""
    };
    let _ = writeln!(
        md,
        "| optimizer | batch | n | mean | sd | variance | min | p5 | median | max |{extra}"
    );
    let _ = writeln!(
        md,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|{}",
        if with_counts { "---:|---:|" } else { "" }
    );
    for cell in &a.cells {
        let counts = if with_counts {
            format!(
                " {} | {} |",
                if a.chance.is_some() {
                    cell.near_chance.to_string()
                } else {
                    "?".to_string()
                },
                cell.errored
            )
        } else {
            String::new()
        };
        match pick(cell) {
            Some(s) => {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {:.2} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |{counts}",
                    cell.optimizer,
                    cell.batch_size,
                    s.n,
                    s.mean,
                    opt_num(s.sd),
                    opt_num(s.variance),
                    s.min,
                    s.p5,
                    s.median,
                    s.max
                );
            }
            None => {
                let _ = writeln!(
                    md,
                    "| {} | {} | 0 | - | - | - | - | - | - | - |{counts}",
                    cell.optimizer, cell.batch_size
                );
            }
        }
    }
    md.push('\n');
}

fn failures(md: &mut String, a: &Analysis) {
    let _ = writeln!(md, "## 3. Failed and errored runs\n");
    match &a.chance {
        Some(rule) => {
            let _ = writeln!(
                md,
                "A run counts as **at or near chance** (failed to learn) when its peak test accuracy \
                 is at most 100/classes + {} points = {:.2}% ({} classes, from {}; chance is {:.2}%). \
                 Such runs stay in every statistic above, as in the study: they are what the \
                 optimizer did. {} run(s) are at or near chance.\n",
                ((rule.threshold_percent - rule.chance_percent) * 100.0).round() / 100.0,
                rule.threshold_percent,
                rule.classes,
                rule.source,
                rule.chance_percent,
                a.near_chance_runs.len()
            );
        }
        None => {
            let _ = writeln!(
                md,
                "Runs at or near chance are not counted: the number of classes is unknown (pass `--classes N`).\n"
            );
        }
    }
    if !a.near_chance_runs.is_empty() {
        let _ = writeln!(md, "| run | optimizer | batch | config | seed | peak % |");
        let _ = writeln!(md, "|---|---|---:|---|---:|---:|");
        for r in &a.near_chance_runs {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {:.2} |",
                r.run_id,
                r.optimizer,
                r.batch_size,
                r.config_id,
                r.seed,
                r.peak_percent.unwrap_or(f64::NAN)
            );
        }
        md.push('\n');
    }
    if a.errored_runs.is_empty() {
        let _ = writeln!(md, "No run ended with an error.\n");
    } else {
        let _ = writeln!(
            md,
            "{} run(s) ended with an error status; they are left out of every statistic:\n",
            a.errored_runs.len()
        );
        let _ = writeln!(md, "| run | optimizer | batch | config | seed | status |");
        let _ = writeln!(md, "|---|---|---:|---|---:|---|");
        for r in &a.errored_runs {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                r.run_id,
                r.optimizer,
                r.batch_size,
                r.config_id,
                r.seed,
                escape(r.status.as_deref().unwrap_or(""))
            );
        }
        md.push('\n');
    }
}

/// Makes text safe inside a markdown table cell.
fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn configs(md: &mut String, a: &Analysis) {
    let _ = writeln!(md, "## 4. Hyperparameter configurations\n");
    if a.configs.is_empty() {
        let _ = writeln!(
            md,
            "Every optimizer ran one hyperparameter configuration, so cells are seeds only.\n"
        );
        return;
    }
    let _ = writeln!(
        md,
        "Cells pool an optimizer's configurations (unbalanced when configurations have different \
         numbers of ok runs). Mean {} (%) per configuration, with n in parentheses:\n",
        a.response.short()
    );
    for optimizer in &a.optimizers {
        let rows: Vec<_> = a
            .configs
            .iter()
            .filter(|c| &c.optimizer == optimizer)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let batches: Vec<_> = a
            .batch_sizes
            .iter()
            .filter(|b| {
                rows.iter()
                    .any(|r| r.cells.iter().any(|c| &c.batch_size == *b))
            })
            .collect();
        let _ = writeln!(md, "**{optimizer}**\n");
        let _ = write!(md, "| config | description |");
        for b in &batches {
            let _ = write!(md, " {b} |");
        }
        let _ = write!(md, "\n|---|---|");
        for _ in &batches {
            md.push_str("---:|");
        }
        md.push('\n');
        for r in rows {
            let _ = write!(md, "| {} | {} |", r.config_id, escape(&r.config));
            for b in &batches {
                match r.cells.iter().find(|c| &c.batch_size == *b) {
                    Some(c) => {
                        let _ = write!(md, " {:.2} ({}) |", c.mean, c.n);
                    }
                    None => md.push_str(" - |"),
                }
            }
            md.push('\n');
        }
        md.push('\n');
    }
}

fn anova_table(md: &mut String, t: &AnovaTable, alpha: f64) {
    let _ = writeln!(md, "| term | df | sum of squares | mean square | F | p |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
    for row in t.rows() {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            row.term,
            row.df,
            fmt_num(row.sum_sq),
            fmt_num(row.mean_sq),
            row.f.map_or_else(|| "-".to_string(), |f| format!("{f:.3}")),
            p_cell(row.p_value, alpha)
        );
    }
    md.push('\n');
}

fn anova(md: &mut String, a: &Analysis) {
    let _ = writeln!(md, "## 5. Two-factor ANOVA: optimizer x batch size\n");
    match &a.anova {
        Tested::Skipped { reason } => {
            let _ = writeln!(md, "Not computed: {reason}.\n");
        }
        Tested::Done { result } => {
            let _ = writeln!(
                md,
                "Model `{} ~ optimizer + batch size + optimizer:batch size` by least squares over {} \
                 optimizer(s) x {} batch size(s). Type II tests each main effect adjusted for the other \
                 (not for the interaction); Type III (sum-to-zero coding) adjusts every term for all \
                 others. They differ when cells are unbalanced. The study used Type II on peak accuracy \
                 and Type III on ln(peak accuracy).\n",
                a.response,
                result.optimizers.len(),
                result.batch_sizes.len()
            );
            for d in &result.dropped {
                let _ = writeln!(md, "- Left out: {d}.");
            }
            if !result.dropped.is_empty() {
                md.push('\n');
            }
            for entry in &result.tables {
                let response = match entry.transform {
                    Transform::Identity => a.response.short().to_string(),
                    Transform::Ln => format!("ln({})", a.response.short()),
                };
                let ss = match entry.ss_type {
                    SsType::II => "Type II",
                    SsType::III => "Type III",
                };
                let _ = writeln!(md, "**{ss}, response {response}**\n");
                match &entry.result {
                    Tested::Done { result } => anova_table(md, result, a.alpha),
                    Tested::Skipped { reason } => {
                        let _ = writeln!(md, "Not computed: {reason}.\n");
                    }
                }
            }
        }
    }
    let _ = writeln!(md, "**One-way ANOVA across batch sizes, per optimizer**\n");
    scoped_table(md, &a.one_way, a.alpha, "F", |t| {
        (t.between.f, t.between.df, t.within.df, t.between.p_value)
    });
}

/// A table of scoped F-like tests: scope | groups | statistic (df) | p.
fn scoped_table<T>(
    md: &mut String,
    tests: &[Scoped<T>],
    alpha: f64,
    statistic: &str,
    numbers: impl Fn(&T) -> (Option<f64>, usize, usize, Option<f64>),
) {
    if tests.is_empty() {
        let _ = writeln!(
            md,
            "None: no optimizer has {MIN_RUNS}+ batch sizes with {MIN_RUNS}+ ok runs.\n"
        );
        return;
    }
    let _ = writeln!(md, "| compared | groups | {statistic} | df | p |");
    let _ = writeln!(md, "|---|---|---:|---|---:|");
    for t in tests {
        match &t.result {
            Tested::Done { result } => {
                let (s, d1, d2, p) = numbers(result);
                let df = if d2 == 0 {
                    d1.to_string()
                } else {
                    format!("{d1}, {d2}")
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {df} | {} |",
                    t.scope,
                    group_list(t),
                    s.map_or_else(|| "-".to_string(), |s| format!("{s:.3}")),
                    p_cell(p, alpha)
                );
            }
            Tested::Skipped { reason } => {
                let _ = writeln!(
                    md,
                    "| {} | {} | not computed: {reason} | | |",
                    t.scope,
                    group_list(t)
                );
            }
        }
    }
    md.push('\n');
}

/// The groups of a scoped test; "all N cells" rather than a list of every cell.
fn group_list<T>(t: &Scoped<T>) -> String {
    if t.at == "all" {
        format!("all {} cells with {MIN_RUNS}+ ok runs", t.groups.len())
    } else {
        t.groups.join(", ")
    }
}

fn homogeneity_cells(t: &Tested<HomogeneityTest>, alpha: f64) -> String {
    match t {
        Tested::Done { result } => format!(
            "{} | {}",
            result
                .statistic
                .map_or_else(|| "-".to_string(), |w| format!("{w:.3}")),
            p_cell(result.p_value, alpha)
        ),
        Tested::Skipped { reason } => format!("not computed: {reason} | -"),
    }
}

fn homogeneity(md: &mut String, a: &Analysis, claims: &Claims) {
    let _ = writeln!(md, "## 6. Variance homogeneity\n");
    let _ = writeln!(
        md,
        "Do the cells' variances of {} differ? Brown-Forsythe runs a one-way ANOVA on \
         absolute deviations from each cell's median (robust to skew and failed runs); Levene uses \
         the mean. A small p means the variances differ. W is undefined (-) when no group's \
         deviations vary.\n",
        a.response.short()
    );
    for (across, title) in [
        (Across::Optimizers, "Across optimizers, at each batch size"),
        (Across::BatchSizes, "Across batch sizes, for each optimizer"),
    ] {
        let _ = writeln!(md, "**{title}**\n");
        let rows: Vec<_> = a
            .homogeneity
            .iter()
            .filter(|h| h.across == across)
            .collect();
        if rows.is_empty() {
            let _ = writeln!(
                md,
                "None: fewer than 2 cells with {MIN_RUNS}+ ok runs to compare.\n"
            );
            continue;
        }
        let _ = writeln!(
            md,
            "| {} | variances (group: variance) | Brown-Forsythe W | p | Levene W | p |",
            if across == Across::Optimizers {
                "batch"
            } else {
                "optimizer"
            }
        );
        let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
        for h in rows {
            let variances: Vec<String> = h
                .groups
                .iter()
                .zip(&h.variances)
                .map(|(g, v)| format!("{g}: {}", fmt_num(*v)))
                .collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                h.at,
                variances.join(", "),
                homogeneity_cells(&h.brown_forsythe, a.alpha),
                homogeneity_cells(&h.levene, a.alpha)
            );
        }
        md.push('\n');
    }
    if !claims.variance_checks.is_empty() {
        let _ = writeln!(
            md,
            "**{SECOND_ORDER} at its best batch size vs each other optimizer at its best** (claim c)\n"
        );
        let _ = writeln!(
            md,
            "| other | its best batch | its variance | {SECOND_ORDER} batch | {SECOND_ORDER} variance | Brown-Forsythe W | p | Levene W | p |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for c in &claims.variance_checks {
            let _ = writeln!(
                md,
                "| {}{} | {} | {} | {} | {} | {} | {} |",
                c.other,
                if c.first_order {
                    ""
                } else {
                    " (not first-order)"
                },
                c.other_batch,
                fmt_num(c.other_variance),
                c.lbfgs_batch,
                fmt_num(c.lbfgs_variance),
                homogeneity_cells(&c.brown_forsythe, a.alpha),
                homogeneity_cells(&c.levene, a.alpha)
            );
        }
        md.push('\n');
    }
}

fn recommendations(md: &mut String, a: &Analysis) {
    let _ = writeln!(md, "## 7. Recommended batch size per optimizer\n");
    if let Some(rule) = a
        .recommendations
        .iter()
        .find_map(|r| r.result.done().map(|p| p.rule))
    {
        let _ = writeln!(
            md,
            "Rule, on {}: {}. Only batch sizes with {MIN_RUNS}+ ok runs are considered. \
             min is the lowest run, p5 the 5th percentile (linear interpolation between order \
             statistics, numpy's default); difference is the mean minus the best's, with the \
             {:.0}% confidence interval (Welch) that the equivalence test checks against \
             ±{} points.\n",
            a.response.words(),
            rule.text("batch size"),
            100.0 * (1.0 - 2.0 * rule.alpha),
            rule.margin
        );
    }
    for r in &a.recommendations {
        match &r.result {
            Tested::Skipped { reason } => {
                let _ = writeln!(md, "**{}**: no recommendation ({reason}).\n", r.optimizer);
            }
            Tested::Done { result: p } => {
                let _ = writeln!(
                    md,
                    "**{}: batch {}**{}\n",
                    r.optimizer,
                    p.batch_size,
                    if p.batch_size == p.best_mean {
                        " (also the highest mean)".to_string()
                    } else {
                        format!(
                            " (highest mean: batch {}; batch {} is equivalent within ±{} points and steadier)",
                            p.best_mean, p.batch_size, p.rule.margin
                        )
                    }
                );
                let _ = writeln!(
                    md,
                    "| batch | n | mean | sd | min | p5 | difference | {:.0}% CI | TOST p | verdict |",
                    100.0 * (1.0 - 2.0 * p.rule.alpha)
                );
                let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---|---:|---|");
                for c in &p.candidates {
                    let mark = if c.batch_size == p.batch_size {
                        " ← recommended"
                    } else {
                        ""
                    };
                    let (ci, tost_p) = match &c.tost {
                        Some(t) => (
                            format!("[{:+.2}, {:+.2}]", t.ci.0, t.ci.1),
                            p_cell(Some(t.p_value), p.rule.alpha),
                        ),
                        None => ("-".to_string(), "-".to_string()),
                    };
                    let _ = writeln!(
                        md,
                        "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:+.2} | {ci} | {tost_p} | {}{mark} |",
                        c.batch_size,
                        c.n,
                        c.mean,
                        c.sd,
                        c.min,
                        c.p5,
                        c.difference,
                        c.verdict.words()
                    );
                }
                md.push('\n');
            }
        }
    }
}

fn pairwise_table(md: &mut String, p: &Pairwise, alpha: f64) {
    let _ = writeln!(md, "**{}**\n", p.scope);
    match &p.rows {
        Tested::Skipped { reason } => {
            let _ = writeln!(md, "Not computed: {reason}.\n");
        }
        Tested::Done { result } => {
            let _ = writeln!(
                md,
                "| first | second | mean first | mean second | difference | t | df | p | Holm p | Bonferroni p |"
            );
            let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            for r in result {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.2} | {:.2} | {:+.2} | {} | {} | {} | {} | {} |",
                    r.first,
                    r.second,
                    r.mean_first,
                    r.mean_second,
                    r.mean_difference,
                    r.t.map_or_else(|| "-".to_string(), |t| format!("{t:.3}")),
                    r.df.map_or_else(|| "-".to_string(), |d| format!("{d:.1}")),
                    p_cell(r.p, alpha),
                    p_cell(r.p_holm, alpha),
                    p_cell(r.p_bonferroni, alpha)
                );
            }
            md.push('\n');
        }
    }
}

fn pairwise(md: &mut String, a: &Analysis) {
    let _ = writeln!(md, "## 8. Pairwise comparisons and rank tests\n");
    let _ = writeln!(
        md,
        "Welch t-tests (unequal variances) between cells of {}, two-sided. Each table is \
         one family: Holm's adjustment controls the family-wise error rate and is never less \
         powerful than Bonferroni (the study's choice, also shown). difference = first - second, \
         in points.\n",
        a.response.short()
    );
    let _ = writeln!(md, "### Within each optimizer, across batch sizes\n");
    for p in a.pairwise.iter().filter(|p| p.across == Across::BatchSizes) {
        pairwise_table(md, p, a.alpha);
    }
    let _ = writeln!(md, "### Across optimizers\n");
    let across: Vec<_> = a
        .pairwise
        .iter()
        .filter(|p| p.across == Across::Optimizers)
        .collect();
    if across.is_empty() {
        let _ = writeln!(
            md,
            "None: no batch size has {MIN_RUNS}+ optimizers with {MIN_RUNS}+ ok runs.\n"
        );
    }
    for p in across {
        pairwise_table(md, p, a.alpha);
    }
    let _ = writeln!(md, "### Kruskal-Wallis\n");
    let _ = writeln!(
        md,
        "Rank-based test that the groups come from one distribution (tie-corrected H, chi-squared \
         approximation). It does not assume normal residuals, so it checks the ANOVA's conclusions.\n"
    );
    scoped_table(md, &a.kruskal_wallis, a.alpha, "H", |k| {
        (k.statistic, k.df, 0, k.p_value)
    });
    super::paired::section(md, a);
}

fn notes(md: &mut String, a: &Analysis, warnings: &[String]) {
    if a.notes.is_empty() && warnings.is_empty() {
        return;
    }
    let _ = writeln!(md, "## Notes on the data\n");
    for w in warnings.iter().chain(&a.notes) {
        let _ = writeln!(md, "- {w}");
    }
    md.push('\n');
}

fn method(md: &mut String, a: &Analysis) {
    let _ = writeln!(md, "## Method\n");
    let _ = writeln!(
        md,
        "- Response: {response}, in percent: {definition}. `--response peak|selected|final` \
         chooses it; the default is `selected` when every ok run has one (a validation split), \
         else `peak`.\n\
         - Only runs with status `ok` enter the statistics; a cell needs {MIN_RUNS}+ ok runs to \
         enter a test.\n\
         - Claim (a) holds when the Type II ANOVA's batch-size main effect or the optimizer x \
         batch-size interaction has p < {alpha}.\n\
         - Claim (b), per optimizer: the full-batch cell has the lowest mean, and its Holm-adjusted \
         Welch p against the best cell is < {alpha}. Holds when true for every optimizer; partly \
         when for some (or only one of the two parts holds).\n\
         - Claim (c): {SECOND_ORDER}'s highest-mean cell against each first-order optimizer's \
         highest-mean cell, Brown-Forsythe p < {alpha} with {SECOND_ORDER}'s variance the lower. \
         Holds when so against every first-order method; does not hold when {SECOND_ORDER}'s \
         variance is significantly higher against any; inconclusive when no difference is \
         significant.\n\
         - Recommendation (section 7): the best mean, unless a steadier batch size is shown \
         equivalent to it (Welch TOST within the stated margin); the rule is stated there.\n\
         - Paired analyses (section 8): a seed fixes the initial weights in every cell, so runs of \
         one seed and configuration are paired across batch sizes; Friedman and paired t-tests use \
         complete blocks only.\n\
         - Numbers: `report.json` next to this file holds every number above for programs.\n",
        alpha = a.alpha,
        response = a.response.words(),
        definition = a.response.definition()
    );
}

/// `text` with its first letter in upper case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

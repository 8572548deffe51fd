//! What a tune tells: `tune.json` (everything, for programs), `tune.md`
//! (for people, with the race plot), and a few lines on stdout.

use super::race::{Elimination, Race, RaceOutcome, RaceSettings, RaceVerdict, Round, Rule, Stop};
use super::types::{Candidate, Tune, Tuned};
use crate::data::Loaded;
use crate::report::figure::PlotError;
use crate::report::response::Response;
use crate::run::BatchSize;
use crate::spec::OptimizerOptions;
use crate::sweep::store;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The test, in one sentence, for the outputs.
pub const TEST: &str = "one-sided Welch t-test of each survivor against the round's \
highest-mean candidate (H1: its mean is lower), Holm-adjusted over the round's comparisons";

/// The host's one p-value format ([`crate::report::format::fmt_p`]),
/// re-exported where `sooth tune`'s command line has always found it.
pub use crate::report::format::fmt_p;

/// The recommendation.
#[derive(Clone, Debug, Serialize)]
pub struct TuneRecommendation {
    /// The candidate's index.
    pub candidate: usize,
    /// `batch 32` (with the raced flags' values).
    pub label: String,
    /// Samples per step.
    pub batch_size: BatchSize,
    /// The optimizer and its settings.
    pub optimizer: String,
    /// Values of the raced flags.
    pub grid: BTreeMap<String, String>,
    /// Seeds behind the numbers (runs with a peak).
    pub n: usize,
    /// Mean peak test accuracy, percent.
    pub mean: f64,
    /// Standard deviation, percentage points.
    pub sd: Option<f64>,
    /// Variance, percent squared.
    pub variance: Option<f64>,
    /// 95 % confidence interval of the mean.
    pub ci: Option<(f64, f64)>,
    /// How it was picked.
    pub rule: Rule,
    /// The same, in words.
    pub why: String,
    /// `sooth train ...` for one run with these settings.
    pub command: String,
}

/// One eliminated candidate.
#[derive(Clone, Debug, Serialize)]
pub struct Eliminated {
    /// The candidate's index.
    pub candidate: usize,
    /// Its label.
    pub label: String,
    /// The round it went out in.
    pub round: usize,
    /// Seeds it had then.
    pub seeds: usize,
    /// Its mean then (percent), if it had a peak.
    pub mean: Option<f64>,
    /// Why.
    pub reason: Elimination,
    /// The same, in words.
    pub why: String,
}

/// Runs spent.
#[derive(Clone, Debug, Serialize)]
pub struct Spent {
    /// Runs of the race.
    pub race: usize,
    /// Runs of the full grid (every candidate x the most seeds).
    pub full_grid: usize,
    /// race / full_grid.
    pub fraction: f64,
    /// Done by this invocation.
    pub ran_now: usize,
    /// Found done before.
    pub resumed: usize,
    /// Wall time of this invocation, seconds.
    pub seconds: f64,
}

/// Everything `tune.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct TuneSummary {
    /// The study's name.
    pub name: String,
    /// The data set's short name.
    pub data: String,
    /// The data, for people.
    pub dataset: String,
    /// `64-32-10 relu`.
    pub model: String,
    /// The optimizer's name.
    pub optimizer: String,
    /// Epochs of every run.
    pub epochs: u32,
    /// The test.
    pub test: String,
    /// The accuracy raced (`peak`, `selected` or `final`).
    pub response: Response,
    /// The race's settings.
    pub settings: RaceSettings,
    /// Seeds per candidate of each planned round.
    pub schedule: Vec<usize>,
    /// Significance level of each round.
    pub alpha_per_round: f64,
    /// The candidates.
    pub candidates: Vec<Candidate>,
    /// Batch sizes left out: larger than the training set.
    pub dropped_batch_sizes: Vec<BatchSize>,
    /// Why the race ended.
    pub stop: Stop,
    /// The same, in words.
    pub stop_why: String,
    /// The pick (`None` when every candidate failed).
    pub recommendation: Option<TuneRecommendation>,
    /// The eliminated candidates, in the order they went out.
    pub eliminated: Vec<Eliminated>,
    /// The rounds.
    pub rounds: Vec<Round>,
    /// Runs spent.
    pub runs: Spent,
}

/// The summary of a finished tune.
pub fn summarize(tune: &Tune, data: &Loaded, tuned: &Tuned) -> TuneSummary {
    let race = &tuned.race;
    let stop = match race.outcome {
        RaceOutcome::Finished { stop, .. } => stop,
        RaceOutcome::Running { .. } => Stop::Time,
    };
    let label = |c: usize| {
        tune.candidates
            .get(c)
            .map_or_else(|| format!("#{c}"), |c| c.label.clone())
    };
    let mut eliminated = Vec::new();
    for round in &race.rounds {
        for e in &round.entries {
            if let RaceVerdict::Eliminated(reason) = &e.verdict {
                let why = match reason {
                    Elimination::AllFailed => format!(
                        "failed: {} of {} runs at or below chance + {} points{}",
                        e.at_chance,
                        round.seeds,
                        super::CHANCE_MARGIN_POINTS,
                        if e.errored > 0 {
                            format!(", {} errored", e.errored)
                        } else {
                            String::new()
                        }
                    ),
                    Elimination::Worse { best, p, p_holm } => format!(
                        "significantly below {} (mean {:.2} vs {:.2} %, one-sided Welch p = {}, Holm {} < {})",
                        label(*best),
                        e.mean.unwrap_or(f64::NAN),
                        round.entry(*best).and_then(|b| b.mean).unwrap_or(f64::NAN),
                        fmt_p(*p),
                        fmt_p(*p_holm),
                        fmt_p(round.alpha)
                    ),
                };
                eliminated.push(Eliminated {
                    candidate: e.candidate,
                    label: label(e.candidate),
                    round: round.number,
                    seeds: round.seeds,
                    mean: e.mean,
                    reason: reason.clone(),
                    why,
                });
            }
        }
    }
    let recommendation = recommendation(tune, race, &label);
    let full_grid = tune.settings.full_grid();
    TuneSummary {
        name: tune.study.name.clone(),
        data: data.name.clone(),
        dataset: data.description.clone(),
        model: tune
            .study
            .model_spec()
            .describe(data.train.width, data.train.classes),
        optimizer: tune.request.optimizer_name().to_string(),
        epochs: tune.request.epochs,
        test: TEST.to_string(),
        response: tuned.response,
        settings: tune.settings.clone(),
        schedule: race.schedule.clone(),
        alpha_per_round: tune.settings.alpha_per_round(),
        candidates: tune.candidates.clone(),
        dropped_batch_sizes: tune.dropped.clone(),
        stop,
        stop_why: stop_words(stop, &tune.settings, tuned),
        recommendation,
        eliminated,
        rounds: race.rounds.clone(),
        runs: Spent {
            race: race.runs,
            full_grid,
            fraction: race.runs as f64 / full_grid.max(1) as f64,
            ran_now: tuned.ran,
            resumed: tuned.resumed,
            seconds: tuned.seconds,
        },
    }
}

fn stop_words(stop: Stop, settings: &RaceSettings, tuned: &Tuned) -> String {
    match stop {
        Stop::Winner => {
            "one candidate left: every other one was significantly worse or failed".into()
        }
        Stop::MaxSeeds => format!(
            "the survivors reached the most seeds ({}) with no single winner",
            settings.max_seeds
        ),
        Stop::Budget => format!(
            "the budget of {} runs could not pay for another round",
            settings.budget.unwrap_or(tuned.race.runs)
        ),
        Stop::Time => "the time limit came before the next round could finish".into(),
        Stop::AllFailed => "every candidate failed".into(),
    }
}

fn recommendation(
    tune: &Tune,
    race: &Race,
    label: &dyn Fn(usize) -> String,
) -> Option<TuneRecommendation> {
    let (pick, rule) = match &race.outcome {
        RaceOutcome::Finished {
            pick: Some(p),
            rule: Some(r),
            ..
        } => (*p, r.clone()),
        _ => return None,
    };
    let last = race.rounds.last()?;
    let entry = last.entry(pick)?;
    let candidate = tune.candidates.get(pick)?;
    let why = match &rule {
        Rule::OnlySurvivor => format!(
            "the only candidate left after round {}: every other was significantly worse or failed",
            last.number
        ),
        Rule::Equivalence {
            best_mean,
            among,
            equivalent,
            margin,
            ..
        } if *best_mean == pick => {
            if equivalent.is_empty() {
                format!(
                    "the highest mean of the {} survivors; none was shown equivalent to it \
                     within ±{margin} points (Welch TOST), so none can win on a lower sd",
                    among.len()
                )
            } else {
                format!(
                    "the highest mean of the {} survivors, and the lowest sd of it and the {} \
                     shown equivalent to it within ±{margin} points (Welch TOST)",
                    among.len(),
                    equivalent.len()
                )
            }
        }
        Rule::Equivalence {
            best_mean,
            among,
            margin,
            tost_p,
            ..
        } => {
            let best = last.entry(*best_mean);
            let p = among
                .iter()
                .position(|&c| c == pick)
                .and_then(|i| tost_p.get(i).copied().flatten());
            format!(
                "the lowest sd of the survivors shown equivalent to the highest-mean {} within \
                 ±{margin} points ({:.2} % vs {:.2} %, Welch TOST p = {})",
                label(*best_mean),
                best.and_then(|b| b.mean).unwrap_or(f64::NAN),
                entry.mean.unwrap_or(f64::NAN),
                p.map_or_else(|| "n/a".into(), fmt_p)
            )
        }
    };
    Some(TuneRecommendation {
        candidate: pick,
        label: candidate.label.clone(),
        batch_size: candidate.batch_size,
        optimizer: candidate.config.clone(),
        grid: candidate.grid.clone(),
        n: entry.n,
        mean: entry.mean.unwrap_or(f64::NAN),
        sd: entry.sd,
        variance: entry.variance,
        ci: entry.ci,
        rule,
        why,
        command: train_command(tune, candidate),
    })
}

/// `sooth train ...` with the tune's flags and the candidate's.
pub fn train_command(tune: &Tune, candidate: &Candidate) -> String {
    let r = &tune.request;
    let mut words = vec!["sooth".to_string(), "train".to_string()];
    let mut flag = |k: &str, v: &str| {
        words.push(format!("--{}", k.replace('_', "-")));
        // A switch (`--damping`) takes no value.
        if !(OptimizerOptions::is_switch(k) && v == "true") {
            words.push(quote(v));
        }
    };
    for (k, v) in r.data.written().iter().chain(&r.model.written()) {
        flag(k, v);
    }
    flag("optimizer", r.optimizer_name());
    for (k, v) in r.optimizer.written().iter().chain(&candidate.grid) {
        flag(k, v);
    }
    flag("batch_size", &candidate.batch_size.to_string());
    flag("epochs", &r.epochs.to_string());
    if r.sampling != sooth_core::Sampling::Shuffle {
        flag("sampling", crate::sweep::study::sampling_name(r.sampling));
    }
    if r.last_batch != sooth_core::LastBatch::Keep {
        flag(
            "last_batch",
            crate::sweep::study::last_batch_name(r.last_batch),
        );
    }
    words.join(" ")
}

/// Quotes a shell word when it needs it.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:/=+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// One line per round for the progress on stderr.
pub fn round_line(tune: &Tune, round: &Round) -> String {
    let label = |c: usize| {
        tune.candidates
            .get(c)
            .map_or_else(|| format!("#{c}"), |c| c.label.clone())
    };
    let mut line = format!(
        "round {} ({} seeds x {} candidates, level {}):",
        round.number,
        round.seeds,
        round.entries.len(),
        fmt_p(round.alpha)
    );
    if let Some(b) = round.best
        && let Some(e) = round.entry(b)
    {
        let _ = write!(
            line,
            " best {} ({:.2} %)",
            label(b),
            e.mean.unwrap_or(f64::NAN)
        );
    }
    let out: Vec<String> = round
        .entries
        .iter()
        .filter_map(|e| match &e.verdict {
            RaceVerdict::Eliminated(Elimination::AllFailed) => {
                Some(format!("{} (failed)", label(e.candidate)))
            }
            RaceVerdict::Eliminated(Elimination::Worse { p_holm, .. }) => Some(format!(
                "{} (Holm p {})",
                label(e.candidate),
                fmt_p(*p_holm)
            )),
            _ => None,
        })
        .collect();
    if out.is_empty() {
        line.push_str("; nobody out");
    } else {
        let _ = write!(line, "; out: {}", out.join(", "));
    }
    line
}

/// `text` with its first letter in upper case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.2}"))
}

/// `tune.md`; `plot_png` is the race plot's file name (the PNG, or the SVG
/// in a build without the `png` feature), relative to `dir`.
pub fn markdown(s: &TuneSummary, plot_png: Option<&str>, dir: &Path) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n", s.name);
    let _ = writeln!(
        md,
        "Response: **{}**, {} (`--response {}`).\n",
        s.response.words(),
        s.response.definition(),
        s.response
    );
    match &s.recommendation {
        Some(r) => {
            let _ = writeln!(
                md,
                "**Recommended: {}** with {}, {} epochs.\n",
                r.label, r.optimizer, s.epochs
            );
            let _ = writeln!(
                md,
                "{} over {} seeds: mean **{:.2} %**, sd {} points, variance {} \
                 (95 % CI of the mean {}).\n",
                capitalized(s.response.words()),
                r.n,
                r.mean,
                pct(r.sd),
                r.variance.map_or_else(|| "–".into(), |v| format!("{v:.3}")),
                r.ci.map_or_else(|| "–".into(), |(a, b)| format!("{a:.2} – {b:.2} %"))
            );
            let _ = writeln!(md, "Picked as {}.\n", r.why);
            let _ = writeln!(
                md,
                "One run with these settings:\n\n```\n{}\n```\n",
                r.command
            );
        }
        None => {
            let _ = writeln!(md, "**No recommendation:** every candidate failed.\n");
        }
    }
    let _ = writeln!(
        md,
        "Stopped: {}. The race used **{} runs**, {:.0} % of the full grid's {} \
         ({} candidates x {} seeds).\n",
        s.stop_why,
        s.runs.race,
        100.0 * s.runs.fraction,
        s.runs.full_grid,
        s.settings.candidates,
        s.settings.max_seeds
    );
    if let Some(png) = plot_png {
        let _ = writeln!(
            md,
            "![The race: mean {} ± 95 % CI per candidate and round]({png})\n",
            s.response.words()
        );
    }
    let _ = writeln!(md, "## Eliminated\n");
    if s.eliminated.is_empty() {
        let _ = writeln!(md, "None.\n");
    } else {
        let _ = writeln!(md, "| candidate | round (seeds) | why |\n|---|---|---|");
        for e in &s.eliminated {
            let _ = writeln!(
                md,
                "| {} | {} ({}) | {} |",
                e.label, e.round, e.seeds, e.why
            );
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Rounds\n");
    let _ = writeln!(
        md,
        "| round | seeds | candidate | n | mean % | sd | 95 % CI | p | p Holm | verdict |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for round in &s.rounds {
        for e in &round.entries {
            let label = s
                .candidates
                .get(e.candidate)
                .map_or("?", |c| c.label.as_str());
            let verdict = match &e.verdict {
                RaceVerdict::Best => "best".to_string(),
                RaceVerdict::Kept if e.p.is_none() => "kept (not tested)".to_string(),
                RaceVerdict::Kept => "kept".to_string(),
                RaceVerdict::Eliminated(Elimination::AllFailed) => "**out: failed**".to_string(),
                RaceVerdict::Eliminated(Elimination::Worse { .. }) => "**out: worse**".to_string(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {}{} | {} | {} | {} | {} | {} | {} |",
                round.number,
                round.seeds,
                label,
                e.n,
                if e.errored > 0 {
                    format!(" (+{} errored)", e.errored)
                } else {
                    String::new()
                },
                pct(e.mean),
                pct(e.sd),
                e.ci.map_or_else(|| "–".into(), |(a, b)| format!("{a:.2} – {b:.2}")),
                e.p.map_or_else(|| "–".into(), fmt_p),
                e.p_holm.map_or_else(|| "–".into(), fmt_p),
                verdict
            );
        }
    }
    md.push('\n');
    let _ = writeln!(md, "## How the race decides\n");
    let _ = writeln!(
        md,
        "- Schedule: every candidate starts with {} seeds; the survivors of each round get \
         twice as many, up to {} (planned rounds: {}). A round uses the first n seeds \
         (seeds 1..n) of each survivor, so its runs are the same as those of a full sweep.",
        s.settings.initial_seeds,
        s.settings.max_seeds,
        s.schedule
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        md,
        "- Test: {TEST}. A candidate goes out when its adjusted p is below the round's level, \
         {} = alpha {} / {} planned rounds (Bonferroni over the rounds, so that the whole race \
         drops a candidate that is not truly worse with probability about alpha at most).",
        fmt_p(s.alpha_per_round),
        s.settings.alpha,
        s.schedule.len()
    );
    let _ = writeln!(
        md,
        "- Failures: a candidate none of whose runs beats chance + {} points (peak <= {:.1} %), \
         or whose runs all errored, goes out at once.",
        super::CHANCE_MARGIN_POINTS,
        s.settings.failure_threshold.unwrap_or(f64::NAN)
    );
    let _ = writeln!(
        md,
        "- Stop: one candidate left (the winner); or the survivors have {} seeds; or the \
         budget{} cannot pay for another round; or the time is up. Without a winner, the pick \
         follows `sooth report`'s rule: {}.",
        s.settings.max_seeds,
        s.settings
            .budget
            .map_or_else(String::new, |b| format!(" ({b} runs)")),
        s.settings.pick_rule.text("survivor")
    );
    let _ = writeln!(
        md,
        "- Caveats: each survivor is compared with a best chosen by the same data, which makes \
         the test somewhat liberal when candidates are close; a round reuses the seeds of the \
         rounds before it, so the looks are not independent (Bonferroni holds regardless). \
         With 3 seeds the test detects only large, consistent differences: a candidate that \
         survives is not shown to be as good, only not shown to be worse.\n"
    );
    let _ = writeln!(md, "## Setup\n");
    let _ = writeln!(md, "- Data: {}", s.dataset);
    let _ = writeln!(md, "- Model: {}", s.model);
    let _ = writeln!(md, "- Optimizer: {}, {} epochs", s.optimizer, s.epochs);
    let _ = writeln!(
        md,
        "- Candidates: {}",
        s.candidates
            .iter()
            .map(|c| c.label.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    );
    if !s.dropped_batch_sizes.is_empty() {
        let _ = writeln!(
            md,
            "- Left out (larger than the training set): {}",
            s.dropped_batch_sizes
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        md,
        "- Runs: {} in the race ({} now, {} found done), {:.1} s",
        s.runs.race, s.runs.ran_now, s.runs.resumed, s.runs.seconds
    );
    let _ = writeln!(
        md,
        "- Directory: `{}` is a sweep directory of the study (`{}`, `{}`); `sooth report {}` \
         analyses the runs the race made.",
        dir.display(),
        store::RUNS_JSONL,
        store::RUNS_CSV,
        dir.display()
    );
    md
}

/// The few lines `sooth tune` prints.
pub fn stdout_summary(s: &TuneSummary, dir: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sooth tune: {} on {}: {} candidates; the race used {} runs ({:.0} % of the full grid's {}; {} now, {} found done) in {:.1} s",
        s.optimizer,
        s.data,
        s.settings.candidates,
        s.runs.race,
        100.0 * s.runs.fraction,
        s.runs.full_grid,
        s.runs.ran_now,
        s.runs.resumed,
        s.runs.seconds
    );
    match &s.recommendation {
        Some(r) => {
            let _ = writeln!(
                out,
                "recommended: {} — {} {:.2} % mean, sd {}, variance {} over {} seeds",
                r.label,
                s.response.words(),
                r.mean,
                pct(r.sd),
                r.variance.map_or_else(|| "–".into(), |v| format!("{v:.3}")),
                r.n
            );
            let _ = writeln!(out, "  picked as {}", r.why);
        }
        None => {
            let _ = writeln!(out, "no recommendation: every candidate failed");
        }
    }
    let _ = writeln!(out, "stopped: {}", s.stop_why);
    for e in &s.eliminated {
        let _ = writeln!(out, "  out in round {}: {}: {}", e.round, e.label, e.why);
    }
    let _ = writeln!(
        out,
        "details: {}, {}, {}",
        dir.join("tune.md").display(),
        dir.join("tune.json").display(),
        dir.join(if crate::report::figure::WRITES_PNG {
            "tune_race.png"
        } else {
            "tune_race.svg"
        })
        .display()
    );
    out
}

/// Why [`write()`] failed; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TuneOutputError {
    /// The race plot could not be drawn or written.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// `tune.json` or `tune.md` could not be written.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The summary could not be serialised.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Writes `tune.json`, `tune.md` and the plot into `dir`; returns the
/// summary.
///
/// # Errors
/// [`TuneOutputError`], naming the file that could not be written.
pub fn write(
    dir: &Path,
    tune: &Tune,
    data: &Loaded,
    tuned: &Tuned,
) -> Result<TuneSummary, TuneOutputError> {
    let summary = summarize(tune, data, tuned);
    let mut raced = vec!["batch size".to_string()];
    raced.extend(tune.request.grid.iter().map(|(k, _)| k.replace('_', "-")));
    let title = format!(
        "{} on {}: the race of {} ({})",
        summary.optimizer,
        data.name,
        raced.join(" x "),
        tuned.response.words()
    );
    let plot = if summary.rounds.is_empty() {
        None
    } else {
        Some(super::plot::write(dir, tune, &tuned.race, &title)?)
    };
    let json = serde_json::to_string_pretty(&summary)?;
    store::write_atomically(&dir.join("tune.json"), format!("{json}\n").as_bytes())?;
    let md = markdown(
        &summary,
        plot.as_ref().map(|p| p.png.as_deref().unwrap_or(&p.svg)),
        dir,
    );
    store::write_atomically(&dir.join("tune.md"), md.as_bytes())?;
    Ok(summary)
}

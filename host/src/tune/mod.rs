//! `sooth tune`: a race over batch sizes (and optionally one or two
//! hyperparameters) that finds the best one with a fraction of the runs of
//! the full grid.
//!
//! The race is [`race::race`], a pure function of the runs' peak
//! accuracies (its module states the test, the schedule and the stopping
//! rule). This module runs it: the tune's directory is a sweep directory of
//! ONE study (every candidate x `max_seeds` seeds, see [`Request::study`]),
//! and each round runs the runs the race asks for through
//! [`crate::sweep::sweep_selected`]. So a tune is resumable and kill-safe
//! like a sweep (a rerun recomputes every decision from the rows and runs
//! only what is missing), and `sooth report DIR` reads its directory.

pub mod output;
pub mod plot;
pub mod race;
mod types;

pub use types::{CHANCE_MARGIN_POINTS, Candidate, Request, Tune, TuneError, TuneOptions, Tuned};

use crate::data::Loaded;
use crate::report::load::ReportedResult;
use crate::sweep::{Row, SweepError, SweepOptions, store, sweep_selected};
use race::Stop;
use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

/// Runs the race of `tune` into `dir` until it is decided: reads the rows,
/// asks the race which runs it needs, runs them, and again. Rows already in
/// `dir` are reused; the directory must hold this tune's study (or nothing).
pub fn run(
    tune: &Tune,
    data: &Loaded,
    dir: &Path,
    options: TuneOptions,
) -> Result<Tuned, TuneError> {
    let start = Instant::now();
    let sweep_options = SweepOptions {
        threads: options.threads.max(1),
        shard: None,
        quiet: options.quiet,
    };
    // Creates the directory, checks that it holds this study, tidies what a
    // kill left; runs nothing.
    sweep_selected(
        &tune.study,
        data,
        tune.runs.clone(),
        dir,
        sweep_options,
        |_| false,
    )
    .map_err(TuneError::Sweep)?;
    let mut ran = 0;
    let mut reported = 0;
    let mut first_missing: Option<usize> = None;
    loop {
        let rows = read_rows(dir).map_err(TuneError::Sweep)?;
        let lenient = read_reported(dir).map_err(TuneError::Sweep)?;
        let response = tune.response(&lenient)?;
        let mut race = race::race(&tune.settings, &tune.observations(&lenient, response));
        if !options.quiet {
            for round in &race.rounds[reported..] {
                let _ = writeln!(std::io::stderr(), "{}", output::round_line(tune, round));
            }
            reported = race.rounds.len();
        }
        if first_missing.is_none() {
            first_missing = Some(race.missing().len());
        }
        if !race.finished()
            && let Some(limit) = options.time
            && !race.rounds.is_empty()
        {
            let estimate = estimate_seconds(tune, &rows, race.missing(), options.threads);
            if start.elapsed().as_secs_f64() + estimate > limit.as_secs_f64() {
                if !options.quiet {
                    let _ = writeln!(
                        std::io::stderr(),
                        "sooth tune: stopping: the next round needs about {estimate:.0} s more \
                         than the time left"
                    );
                }
                race = race.stopped(Stop::Time, tune.settings.pick_rule);
            }
        }
        if race.finished() {
            let needed = race.runs;
            return Ok(Tuned {
                race,
                rows,
                ran,
                resumed: needed.saturating_sub(ran),
                seconds: start.elapsed().as_secs_f64(),
                response,
            });
        }
        let wanted: HashSet<String> = race
            .missing()
            .iter()
            .filter_map(|&(c, s)| tune.run_id(c, s))
            .collect();
        let outcome = sweep_selected(
            &tune.study,
            data,
            tune.runs.clone(),
            dir,
            sweep_options,
            |r| wanted.contains(&r.run_id),
        )
        .map_err(TuneError::Sweep)?;
        if outcome.ran == 0 {
            return Err(TuneError::Missing {
                dir: dir.display().to_string(),
                wanted: wanted.len(),
                first: wanted.iter().min().cloned().unwrap_or_default(),
            });
        }
        ran += outcome.ran;
    }
}

/// The rows of `dir` (what a killed run left is dropped by the sweep).
pub fn read_rows(dir: &Path) -> Result<Vec<Row>, SweepError> {
    Ok(store::read_jsonl::<Row>(&dir.join(store::RUNS_JSONL))?.0)
}

/// The rows of `dir` as the report reads them (every result field
/// optional, so the response can be any of them).
fn read_reported(dir: &Path) -> Result<Vec<Row<ReportedResult>>, SweepError> {
    Ok(store::read_jsonl_untouched::<Row<ReportedResult>>(&dir.join(store::RUNS_JSONL))?.0)
}

/// Expected wall seconds of `missing` on `threads` workers, from the mean
/// time of each candidate's finished runs (of all runs, for a candidate
/// without any).
fn estimate_seconds(tune: &Tune, rows: &[Row], missing: &[(usize, usize)], threads: usize) -> f64 {
    let mut per: HashMap<usize, (f64, usize)> = HashMap::new();
    let (mut all, mut count) = (0.0, 0usize);
    for row in rows {
        let (Some(c), Some(r)) = (tune.candidate_of(row), &row.result) else {
            continue;
        };
        if r.wall_seconds.is_finite() {
            let e = per.entry(c).or_default();
            e.0 += r.wall_seconds;
            e.1 += 1;
            all += r.wall_seconds;
            count += 1;
        }
    }
    let fallback = if count > 0 { all / count as f64 } else { 0.0 };
    let total: f64 = missing
        .iter()
        .map(|(c, _)| per.get(c).map_or(fallback, |&(s, n)| s / n as f64))
        .sum();
    total / threads.max(1) as f64
}

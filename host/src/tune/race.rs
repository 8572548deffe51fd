//! The race itself: a pure function from a table of (candidate, seed, peak
//! accuracy) to the decisions it supports, so that a rerun over the same
//! rows recomputes exactly the same rounds, and tests can feed it made-up
//! tables.
//!
//! The schedule: every candidate starts with `initial_seeds` seeds; after
//! each round the survivors get twice as many (capped at `max_seeds`):
//! 3, 6, 12 by default. A round uses the first `n` seeds of each survivor.
//!
//! The test, per round: the candidate with the highest mean peak accuracy
//! is the round's best; every other testable survivor gets a one-sided Welch
//! t-test of "its mean is below the best's" (SciPy's
//! `ttest_ind(best, other, equal_var=False, alternative='greater')`); the
//! p-values of the round are Holm-adjusted together, and a candidate whose
//! adjusted p is below the round's level is eliminated. The level is
//! `alpha` split evenly over the planned rounds (Bonferroni over the looks),
//! so that the whole race, not each round, drops a candidate that is not
//! truly worse with probability about `alpha` at most. Two constant samples
//! (zero variance) count as p = 0 when the best's mean is higher, else 1.
//!
//! Failures: a candidate none of whose runs in the round gets above the
//! failure threshold (chance plus a margin), or all of whose runs errored,
//! is eliminated at once, without a test. Runs at chance stay in the
//! statistics of candidates that have other runs (they are what the
//! optimizer did); errored runs are left out of them.
//!
//! Stopping: when one candidate is left (it is significantly better than
//! all others: the winner), when the survivors have `max_seeds` seeds,
//! when the budget of runs cannot pay for another seed per survivor (a
//! round the budget cuts short is the last), or when the caller stops the
//! race ([`Race::stopped`], e.g. for time). Without a winner the pick
//! follows `sooth report`'s rule ([`crate::report::recommend`], the same
//! code) on the last round's survivors: the highest mean, unless a
//! steadier survivor is shown equivalent to it (Welch TOST within
//! [`RaceSettings::pick_rule`]'s margin). Surviving the race's test is not
//! being as good: it only means not shown worse.

use crate::report::recommend::Rule as PickRule;
use crate::stats::posthoc::{Adjust, adjust_p_values, pairwise_welch};
use crate::stats::{Group, Summary};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Confidence level of the per-round intervals of the means.
pub const CONFIDENCE: f64 = 0.95;

/// What the race is told before it starts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RaceSettings {
    /// Number of candidates (indices `0..candidates`).
    pub candidates: usize,
    /// Seeds of every candidate in the first round (>= 2).
    pub initial_seeds: usize,
    /// The most seeds a candidate gets (>= `initial_seeds`).
    pub max_seeds: usize,
    /// Chance of the whole race dropping a candidate that is not truly
    /// worse; split evenly over the planned rounds.
    pub alpha: f64,
    /// A run whose peak is at or below this has failed (same unit as the
    /// peaks); `None`: only errored runs fail.
    pub failure_threshold: Option<f64>,
    /// The most runs the race may use.
    pub budget: Option<usize>,
    /// The rule of the final pick among several survivors (equivalence
    /// margin, in the peaks' unit, and level), `sooth report`'s.
    pub pick_rule: PickRule,
}

/// Why [`RaceSettings::validate`] refused the settings; the message names
/// the offending one.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RaceSettingsError {
    /// `candidates` is 0.
    #[error("no candidates to race")]
    NoCandidates,
    /// `initial_seeds` is below 2.
    #[error("{0} initial seeds; a t-test needs at least 2")]
    TooFewSeeds(usize),
    /// `max_seeds` is below `initial_seeds`.
    #[error("at most {max} seeds but {initial} initial seeds; expected max >= initial")]
    MaxBelowInitial {
        /// `max_seeds`.
        max: usize,
        /// `initial_seeds`.
        initial: usize,
    },
    /// `alpha` is outside (0, 1).
    #[error("alpha {0}; expected 0 < alpha < 1")]
    Alpha(f64),
    /// The final pick's rule is not valid.
    #[error("--equivalence-margin: {0}")]
    Margin(String),
}

impl RaceSettings {
    /// Checks the settings.
    ///
    /// # Errors
    /// The first [`RaceSettingsError`] found, in the order of its variants.
    pub fn validate(&self) -> Result<(), RaceSettingsError> {
        if self.candidates == 0 {
            return Err(RaceSettingsError::NoCandidates);
        }
        if self.initial_seeds < 2 {
            return Err(RaceSettingsError::TooFewSeeds(self.initial_seeds));
        }
        if self.max_seeds < self.initial_seeds {
            return Err(RaceSettingsError::MaxBelowInitial {
                max: self.max_seeds,
                initial: self.initial_seeds,
            });
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(RaceSettingsError::Alpha(self.alpha));
        }
        Ok(())
    }

    /// Seeds per candidate after each planned round: doubling from
    /// `initial_seeds`, the last one exactly `max_seeds`.
    pub fn schedule(&self) -> Vec<usize> {
        let mut seeds = vec![self.initial_seeds.max(1)];
        while let Some(&n) = seeds.last()
            && n < self.max_seeds
        {
            seeds.push((n * 2).min(self.max_seeds));
        }
        seeds
    }

    /// The significance level of each round's test.
    pub fn alpha_per_round(&self) -> f64 {
        self.alpha / self.schedule().len() as f64
    }

    /// Runs of the full grid: every candidate with `max_seeds` seeds.
    pub fn full_grid(&self) -> usize {
        self.candidates * self.max_seeds
    }
}

/// One run's outcome as the race sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation {
    /// The candidate, `0..candidates`.
    pub candidate: usize,
    /// Position of the run's seed in the seed list, from 0.
    pub seed: usize,
    /// Peak test accuracy; `None` for a run that errored (or gave no
    /// finite peak).
    pub peak: Option<f64>,
}

/// Why a candidate left the race.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Elimination {
    /// No run above the failure threshold (or every run errored).
    AllFailed,
    /// Significantly worse than the round's best.
    Worse {
        /// The round's best candidate.
        best: usize,
        /// One-sided Welch p-value.
        p: f64,
        /// Holm-adjusted over the round's comparisons.
        p_holm: f64,
    },
}

/// A candidate's standing after a round.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum RaceVerdict {
    /// The round's highest mean.
    Best,
    /// Not significantly worse (or not testable yet): races on.
    Kept,
    /// Out of the race.
    Eliminated(Elimination),
}

/// One candidate in one round.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    /// The candidate.
    pub candidate: usize,
    /// Runs of the round with a peak (the n of the statistics).
    pub n: usize,
    /// Of those, runs at or below the failure threshold.
    pub at_chance: usize,
    /// Runs that errored (not in the statistics).
    pub errored: usize,
    /// Mean peak accuracy; `None` without a peak.
    pub mean: Option<f64>,
    /// Sample standard deviation; `None` for n < 2.
    pub sd: Option<f64>,
    /// Sample variance; `None` for n < 2.
    pub variance: Option<f64>,
    /// [`CONFIDENCE`] t interval of the mean; `None` for n < 2.
    pub ci: Option<(f64, f64)>,
    /// One-sided Welch p against the round's best; `None` for the best and
    /// for candidates that were not tested.
    pub p: Option<f64>,
    /// The round's values (peaks, or the tune's response) behind `mean`.
    #[serde(skip)]
    pub values: Vec<f64>,
    /// `p` Holm-adjusted over the round.
    pub p_holm: Option<f64>,
    /// The outcome.
    pub verdict: RaceVerdict,
}

/// One round: every candidate alive at its start, with `seeds` seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Round {
    /// From 1.
    pub number: usize,
    /// Seeds per candidate.
    pub seeds: usize,
    /// Significance level of this round's test.
    pub alpha: f64,
    /// The highest-mean candidate, if any had a peak.
    pub best: Option<usize>,
    /// One entry per candidate raced in this round, in candidate order.
    pub entries: Vec<Entry>,
}

impl Round {
    /// The entry of `candidate`, if it raced in this round.
    pub fn entry(&self, candidate: usize) -> Option<&Entry> {
        self.entries.iter().find(|e| e.candidate == candidate)
    }

    /// Candidates still in the race after this round.
    pub fn survivors(&self) -> Vec<usize> {
        self.entries
            .iter()
            .filter(|e| !matches!(e.verdict, RaceVerdict::Eliminated(_)))
            .map(|e| e.candidate)
            .collect()
    }
}

/// Why the race ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// One candidate left: all others significantly worse or failed.
    Winner,
    /// The survivors reached the most seeds.
    MaxSeeds,
    /// The budget of runs is spent.
    Budget,
    /// The caller stopped it (time).
    Time,
    /// Every candidate failed.
    AllFailed,
}

/// How the pick was chosen.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rule {
    /// The only candidate left.
    OnlySurvivor,
    /// `sooth report`'s rule on the survivors of the last round: the
    /// lowest sd among `best_mean` (the highest mean) and the survivors
    /// shown equivalent to it (Welch TOST within `margin`).
    Equivalence {
        /// The highest-mean survivor.
        best_mean: usize,
        /// The survivors compared.
        among: Vec<usize>,
        /// Those shown equivalent to `best_mean`.
        equivalent: Vec<usize>,
        /// The margin.
        margin: f64,
        /// TOST p of each of `among` against `best_mean` (`None` for it and
        /// for survivors with fewer than 2 values).
        tost_p: Vec<Option<f64>>,
    },
}

/// Where the race stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RaceOutcome {
    /// The next round needs these runs, (candidate, seed index) in
    /// candidate then seed order.
    Running {
        /// The round that needs them.
        round: usize,
        /// Its seeds per candidate.
        seeds: usize,
        /// The missing runs.
        missing: Vec<(usize, usize)>,
    },
    /// Decided.
    Finished {
        /// Why it ended.
        stop: Stop,
        /// The recommended candidate (`None` when every one failed).
        pick: Option<usize>,
        /// How it was picked.
        rule: Option<Rule>,
    },
}

/// The race so far.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Race {
    /// Seeds per candidate after each planned round.
    pub schedule: Vec<usize>,
    /// The rounds decided, in order.
    pub rounds: Vec<Round>,
    /// Runs in the decided rounds plus the round being run.
    pub runs: usize,
    /// Where it stands.
    pub outcome: RaceOutcome,
}

impl Race {
    /// Whether the race is decided.
    pub fn finished(&self) -> bool {
        matches!(self.outcome, RaceOutcome::Finished { .. })
    }

    /// The runs the race still needs (empty once finished).
    pub fn missing(&self) -> &[(usize, usize)] {
        match &self.outcome {
            RaceOutcome::Running { missing, .. } => missing,
            RaceOutcome::Finished { .. } => &[],
        }
    }

    /// The pick, if finished with one.
    pub fn pick(&self) -> Option<usize> {
        match self.outcome {
            RaceOutcome::Finished { pick, .. } => pick,
            RaceOutcome::Running { .. } => None,
        }
    }

    /// Ends a running race now for `stop` (the caller's reason, e.g.
    /// [`Stop::Time`]): the runs of the pending round are not counted, and
    /// the pick follows the rule on the last decided round. A finished
    /// race is returned as it is.
    pub fn stopped(mut self, stop: Stop, rule: PickRule) -> Race {
        if let RaceOutcome::Running { .. } = self.outcome {
            // Each round's runs extend the previous round's: count only the
            // new seeds of each round.
            let mut total = 0;
            let mut previous = 0;
            for r in &self.rounds {
                total += r.entries.len() * (r.seeds - previous);
                previous = r.seeds;
            }
            self.runs = total;
            self.outcome = finish(stop, self.rounds.last(), rule);
        }
        self
    }
}

/// Runs the race as far as `observations` allow. Pure and deterministic:
/// the same settings and the same table (in any order) give the same race.
/// An observation outside the settings' candidates or `max_seeds` is
/// ignored; of duplicates, the first counts.
pub fn race(settings: &RaceSettings, observations: &[Observation]) -> Race {
    let schedule = settings.schedule();
    let alpha = settings.alpha_per_round();
    let k = settings.candidates;
    let width = settings.max_seeds;
    // table[c][s]: None = not run yet; Some(None) = errored.
    let mut table: Vec<Vec<Option<Option<f64>>>> = vec![vec![None; width]; k];
    for o in observations {
        if o.candidate < k && o.seed < width && table[o.candidate][o.seed].is_none() {
            table[o.candidate][o.seed] = Some(o.peak.filter(|p| p.is_finite()));
        }
    }
    let mut alive: Vec<usize> = (0..k).collect();
    let mut rounds: Vec<Round> = Vec::new();
    let mut runs = 0;
    let mut previous = 0;
    for (index, &planned) in schedule.iter().enumerate() {
        let mut seeds = planned;
        let mut cut = false;
        if let Some(budget) = settings.budget {
            let room = budget.saturating_sub(runs) / alive.len().max(1);
            if previous + room < seeds {
                seeds = previous + room;
                cut = true;
            }
        }
        if seeds <= previous || seeds < 2 {
            return Race {
                schedule,
                outcome: finish(Stop::Budget, rounds.last(), settings.pick_rule),
                rounds,
                runs,
            };
        }
        runs += alive.len() * (seeds - previous);
        let missing: Vec<(usize, usize)> = alive
            .iter()
            .flat_map(|&c| (0..seeds).map(move |s| (c, s)))
            .filter(|&(c, s)| table[c][s].is_none())
            .collect();
        if !missing.is_empty() {
            return Race {
                schedule,
                rounds,
                runs,
                outcome: RaceOutcome::Running {
                    round: index + 1,
                    seeds,
                    missing,
                },
            };
        }
        let round = judge(
            index + 1,
            seeds,
            alpha,
            &alive,
            &table,
            settings.failure_threshold,
        );
        alive = round.survivors();
        rounds.push(round);
        let stop = if alive.len() <= 1 {
            Some(if alive.is_empty() {
                Stop::AllFailed
            } else {
                Stop::Winner
            })
        } else if seeds >= settings.max_seeds {
            Some(Stop::MaxSeeds)
        } else if cut {
            Some(Stop::Budget)
        } else {
            None
        };
        if let Some(stop) = stop {
            return Race {
                schedule,
                outcome: finish(stop, rounds.last(), settings.pick_rule),
                rounds,
                runs,
            };
        }
        previous = seeds;
    }
    // The schedule ends at max_seeds, which stops the loop above.
    Race {
        schedule,
        outcome: finish(Stop::MaxSeeds, rounds.last(), settings.pick_rule),
        rounds,
        runs,
    }
}

/// The pick after `last`: the only survivor, or `rule`'s choice among them.
fn finish(stop: Stop, last: Option<&Round>, rule: PickRule) -> RaceOutcome {
    let Some(last) = last else {
        return RaceOutcome::Finished {
            stop,
            pick: None,
            rule: None,
        };
    };
    let survivors: Vec<&Entry> = last
        .entries
        .iter()
        .filter(|e| !matches!(e.verdict, RaceVerdict::Eliminated(_)))
        .collect();
    let stop = if survivors.is_empty() {
        Stop::AllFailed
    } else {
        stop
    };
    match survivors.as_slice() {
        [] => RaceOutcome::Finished {
            stop,
            pick: None,
            rule: None,
        },
        [only] => RaceOutcome::Finished {
            stop,
            pick: Some(only.candidate),
            rule: Some(Rule::OnlySurvivor),
        },
        many => {
            let samples: Vec<&[f64]> = many.iter().map(|e| e.values.as_slice()).collect();
            let among: Vec<usize> = many.iter().map(|e| e.candidate).collect();
            match rule.select(&samples) {
                Some(selection) => RaceOutcome::Finished {
                    stop,
                    pick: Some(among[selection.pick]),
                    rule: Some(Rule::Equivalence {
                        best_mean: among[selection.best],
                        equivalent: selection
                            .scored
                            .iter()
                            .zip(&among)
                            .filter(|(s, _)| {
                                s.verdict == crate::report::recommend::Verdict::Equivalent
                            })
                            .map(|(_, &c)| c)
                            .collect(),
                        margin: rule.margin,
                        tost_p: selection
                            .scored
                            .iter()
                            .map(|s| s.tost.as_ref().map(|t| t.p_value))
                            .collect(),
                        among,
                    }),
                },
                // Every survivor without a value (all errored).
                None => RaceOutcome::Finished {
                    stop: Stop::AllFailed,
                    pick: None,
                    rule: None,
                },
            }
        }
    }
}

/// Decides one round: failures, the best, the tests, the eliminations.
fn judge(
    number: usize,
    seeds: usize,
    alpha: f64,
    alive: &[usize],
    table: &[Vec<Option<Option<f64>>>],
    threshold: Option<f64>,
) -> Round {
    let samples: Vec<(usize, Vec<f64>, usize)> = alive
        .iter()
        .map(|&c| {
            let runs = &table[c][..seeds];
            let peaks: Vec<f64> = runs.iter().filter_map(|r| r.flatten()).collect();
            let errored = runs.iter().filter(|r| matches!(r, Some(None))).count();
            (c, peaks, errored)
        })
        .collect();
    let failed = |peaks: &[f64]| match threshold {
        Some(t) => peaks.iter().all(|&p| p <= t),
        None => peaks.is_empty(),
    };
    let mut entries: Vec<Entry> = samples
        .iter()
        .map(|(c, peaks, errored)| {
            let summary = Summary::of(peaks).ok();
            Entry {
                candidate: *c,
                n: peaks.len(),
                at_chance: threshold.map_or(0, |t| peaks.iter().filter(|&&p| p <= t).count()),
                errored: *errored,
                mean: summary.as_ref().map(|s| s.mean),
                sd: summary.as_ref().and_then(|s| s.sd),
                variance: summary.as_ref().and_then(|s| s.variance),
                ci: summary.as_ref().and_then(interval),
                p: None,
                values: peaks.clone(),
                p_holm: None,
                verdict: if failed(peaks) {
                    RaceVerdict::Eliminated(Elimination::AllFailed)
                } else {
                    RaceVerdict::Kept
                },
            }
        })
        .collect();
    // The best: highest mean among the candidates still in (ties: lower
    // variance, then lower index), preferring testable ones (n >= 2).
    let rank = |e: &Entry| (e.n >= 2, e.mean.unwrap_or(f64::NEG_INFINITY));
    let best = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.verdict == RaceVerdict::Kept && e.mean.is_some())
        .max_by(|(_, a), (_, b)| {
            let (ta, ma) = rank(a);
            let (tb, mb) = rank(b);
            ta.cmp(&tb)
                .then(ma.total_cmp(&mb))
                .then(
                    b.variance
                        .unwrap_or(f64::INFINITY)
                        .total_cmp(&a.variance.unwrap_or(f64::INFINITY)),
                )
                .then(b.candidate.cmp(&a.candidate))
        })
        .map(|(i, _)| i);
    if let Some(b) = best {
        entries[b].verdict = RaceVerdict::Best;
        let best_peaks = &samples[b].1;
        let tested: Vec<(usize, f64)> = (0..entries.len())
            .filter(|&i| i != b && entries[i].verdict == RaceVerdict::Kept)
            .filter_map(|i| one_sided_welch(best_peaks, &samples[i].1).map(|p| (i, p)))
            .collect();
        let raw: Vec<f64> = tested.iter().map(|&(_, p)| p).collect();
        let adjusted = adjust_p_values(&raw, Adjust::Holm).unwrap_or(raw);
        for (&(i, p), p_holm) in tested.iter().zip(adjusted) {
            let e = &mut entries[i];
            e.p = Some(p);
            e.p_holm = Some(p_holm);
            if p_holm < alpha {
                e.verdict = RaceVerdict::Eliminated(Elimination::Worse {
                    best: samples[b].0,
                    p,
                    p_holm,
                });
            }
        }
    }
    Round {
        number,
        seeds,
        alpha,
        best: best.map(|b| samples[b].0),
        entries,
    }
}

/// The one-sided Welch p-value of "mean(best) > mean(other)", as SciPy's
/// `ttest_ind(best, other, equal_var=False, alternative='greater')`; for two
/// constant samples 0 if best's mean is higher, else 1. `None` when a sample
/// has fewer than 2 values.
pub fn one_sided_welch(best: &[f64], other: &[f64]) -> Option<f64> {
    if best.len() < 2 || other.len() < 2 {
        return None;
    }
    let groups = [
        Group::new("best", best.to_vec()),
        Group::new("other", other.to_vec()),
    ];
    let result = pairwise_welch(&groups, Adjust::None).ok()?;
    let c = result.comparisons.first()?;
    Some(match (c.t, c.p_value) {
        (Some(t), Some(p)) if t > 0.0 => p / 2.0,
        (Some(_), Some(p)) => 1.0 - p / 2.0,
        _ if c.mean_difference > 0.0 => 0.0,
        _ => 1.0,
    })
}

/// The [`CONFIDENCE`] t interval of a sample's mean (n >= 2).
pub fn interval(s: &Summary) -> Option<(f64, f64)> {
    let sd = s.sd?;
    let df = (s.n - 1) as f64;
    let t = StudentsT::new(0.0, 1.0, df)
        .ok()?
        .inverse_cdf(0.5 + CONFIDENCE / 2.0);
    let half = t * sd / (s.n as f64).sqrt();
    Some((s.mean - half, s.mean + half))
}

//! The race's decisions on made-up tables of (candidate, seed, peak
//! accuracy): a known best, ties, failed candidates, the budget, resuming.
//!
//! Reference numbers come from SciPy 1.17.1 / statsmodels 0.15.0 with this
//! script, which replays the race's rules (schedule 3, 6, 12; level
//! 0.05 / 3 per round; failure threshold 15):
//!
//! ```python
//! import numpy as np
//! from scipy import stats
//! from statsmodels.stats.multitest import multipletests
//! def race(table, init=3, mx=12, alpha=0.05, thr=15.0):
//!     sched = [init]
//!     while sched[-1] < mx: sched.append(min(2 * sched[-1], mx))
//!     a = alpha / len(sched)
//!     alive = list(range(len(table)))
//!     for r, n in enumerate(sched, 1):
//!         vals = {c: np.array(table[c][:n]) for c in alive}
//!         failed = [c for c in alive if (vals[c] <= thr).all()]
//!         kept = [c for c in alive if c not in failed]
//!         best = max(kept, key=lambda c: (vals[c].mean(), -vals[c].var(ddof=1), -c))
//!         others = [c for c in kept if c != best]
//!         ps = [stats.ttest_ind(vals[best], vals[c], equal_var=False,
//!                               alternative='greater').pvalue for c in others]
//!         holm = multipletests(ps, method='holm')[1] if ps else []
//!         print(r, n, best, list(zip(others, ps, holm)), failed)
//!         alive = [c for c, h in zip(others, holm) if h >= a] + [best]
//!         if len(alive) <= 1 or n == mx: return
//! race(KNOWN); race(TIES)  # the tables below
//! # the budget cases: variances and p-values of TIES at 6 and 8 seeds
//! for n in (6, 8): print(n, [np.var(t[:n], ddof=1) for t in TIES])
//! ps = [stats.ttest_ind(TIES[0][:8], TIES[c][:8], equal_var=False,
//!                       alternative='greater').pvalue for c in (1, 2)]
//! print(ps, multipletests(ps, method='holm')[1])
//! # the final pick's equivalence tests (statsmodels' Welch TOST)
//! from statsmodels.stats.weightstats import ttost_ind
//! for n in (3, 6, 8, 12):
//!     b = int(np.argmax([np.mean(t[:n]) for t in TIES]))
//!     print(n, b, [ttost_ind(TIES[c][:n], TIES[b][:n], -m, m, usevar='unequal')[0]
//!                  for m in (0.5, 1.0) for c in range(3) if c != b])
//! ```

use sooth::report::recommend::Rule as PickRule;
use sooth::tune::race::{
    Elimination, Observation, RaceOutcome, RaceSettings, RaceSettingsError, RaceVerdict, Rule,
    Stop, one_sided_welch, race,
};

/// Candidate 0 is best; 1 is close but worse; 2 clearly worse; 3 fails.
const KNOWN: [[f64; 12]; 4] = [
    [
        97.1, 96.9, 97.3, 97.0, 97.4, 97.2, 96.8, 97.3, 97.1, 97.5, 96.9, 97.2,
    ],
    [
        96.8, 97.2, 96.6, 96.4, 96.5, 96.6, 96.7, 96.3, 96.6, 96.5, 96.4, 96.8,
    ],
    [
        90.0, 90.5, 89.8, 90.2, 90.1, 89.9, 90.3, 90.0, 90.4, 89.7, 90.2, 90.1,
    ],
    [
        10.0, 9.8, 10.2, 10.0, 10.1, 9.9, 10.0, 10.2, 9.8, 10.1, 10.0, 9.9,
    ],
];

/// No candidate is significantly worse than another; 0 has the highest
/// mean, 1 the lowest variance.
const TIES: [[f64; 12]; 3] = [
    [
        96.4, 94.9, 97.8, 96.0, 97.5, 95.3, 96.9, 98.0, 95.1, 96.6, 97.2, 95.1,
    ],
    [
        96.1, 96.6, 95.7, 96.3, 95.8, 96.5, 96.0, 96.2, 95.6, 96.4, 96.1, 95.9,
    ],
    [
        95.5, 97.1, 94.8, 96.9, 95.2, 96.3, 97.0, 94.6, 96.2, 95.4, 96.8, 95.8,
    ],
];

fn settings(candidates: usize, budget: Option<usize>) -> RaceSettings {
    RaceSettings {
        candidates,
        initial_seeds: 3,
        max_seeds: 12,
        alpha: 0.05,
        failure_threshold: Some(15.0),
        budget,
        pick_rule: PickRule::default(),
    }
}

/// Every run of `table` done.
fn observations<const N: usize>(table: &[[f64; N]]) -> Vec<Observation> {
    table
        .iter()
        .enumerate()
        .flat_map(|(c, row)| {
            row.iter().enumerate().map(move |(s, &p)| Observation {
                candidate: c,
                seed: s,
                peak: Some(p),
            })
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
}

#[test]
fn the_one_sided_welch_test_matches_scipy() {
    // scipy.stats.ttest_ind(a, b, equal_var=False, alternative='greater')
    let (a, b) = ([1.0, 2.0, 4.0], [2.5, 3.0, 3.5, 5.0]);
    assert!(close(one_sided_welch(&a, &b).unwrap(), 0.8342951325608748));
    assert!(close(one_sided_welch(&b, &a).unwrap(), 0.16570486743912516));
    // Two constant samples: certain when the best is higher.
    assert_eq!(one_sided_welch(&[97.0, 97.0], &[96.0, 96.0]), Some(0.0));
    assert_eq!(one_sided_welch(&[96.0, 96.0], &[96.0, 96.0]), Some(1.0));
    assert_eq!(one_sided_welch(&[97.0], &[96.0, 95.0]), None);
}

#[test]
fn a_known_best_wins_early_and_the_failure_goes_at_once() {
    let r = race(&settings(4, None), &observations(&KNOWN));
    assert_eq!(r.schedule, vec![3, 6, 12]);
    assert_eq!(r.rounds.len(), 2);
    let level = 0.05 / 3.0;
    // Round 1: 3 fails, 2 is significantly worse, 1 survives.
    let r1 = &r.rounds[0];
    assert_eq!((r1.seeds, r1.best), (3, Some(0)));
    assert!(close(r1.alpha, level));
    assert_eq!(
        r1.entry(3).unwrap().verdict,
        RaceVerdict::Eliminated(Elimination::AllFailed)
    );
    assert_eq!(r1.entry(3).unwrap().at_chance, 3);
    assert_eq!(r1.entry(3).unwrap().p, None, "a failure is not tested");
    let e2 = r1.entry(2).unwrap();
    assert!(close(e2.p.unwrap(), 3.179593374535248e-05));
    assert!(close(e2.p_holm.unwrap(), 6.359186749070496e-05));
    assert!(matches!(
        e2.verdict,
        RaceVerdict::Eliminated(Elimination::Worse { best: 0, .. })
    ));
    let e1 = r1.entry(1).unwrap();
    assert!(close(e1.p.unwrap(), 0.16977819274662048));
    assert!(close(e1.p_holm.unwrap(), 0.16977819274662048));
    assert_eq!(e1.verdict, RaceVerdict::Kept);
    // Round 2: 1 goes out, 0 is the winner.
    let r2 = &r.rounds[1];
    assert_eq!(r2.seeds, 6);
    assert_eq!(r2.entries.len(), 2);
    let e1 = r2.entry(1).unwrap();
    assert!(close(e1.p.unwrap(), 0.00455265195489637));
    assert!(matches!(e1.verdict, RaceVerdict::Eliminated(_)));
    assert_eq!(
        r.outcome,
        RaceOutcome::Finished {
            stop: Stop::Winner,
            pick: Some(0),
            rule: Some(Rule::OnlySurvivor),
        }
    );
    // 4 x 3 + 2 x 3 runs of the 48 of the full grid.
    assert_eq!(r.runs, 18);
    let best = r2.entry(0).unwrap();
    assert!(close(best.mean.unwrap(), 97.15));
}

#[test]
fn ties_eliminate_nobody_and_stop_at_max_seeds_with_the_lowest_variance() {
    let r = race(&settings(3, None), &observations(&TIES));
    assert_eq!(r.rounds.len(), 3);
    for round in &r.rounds {
        assert_eq!(round.entries.len(), 3, "round {}", round.number);
        assert!(
            round
                .entries
                .iter()
                .all(|e| !matches!(e.verdict, RaceVerdict::Eliminated(_)))
        );
    }
    let last = &r.rounds[2];
    assert_eq!((last.seeds, last.best), (12, Some(0)));
    assert!(close(
        last.entry(1).unwrap().p.unwrap(),
        0.19312648018757483
    ));
    assert!(close(
        last.entry(2).unwrap().p_holm.unwrap(),
        0.3019796579404607
    ));
    assert!(close(last.entry(1).unwrap().variance.unwrap(), 0.1));
    // The highest mean is candidate 0 (96.40); the lowest variance candidate
    // 1 (96.10), not significantly worse, but not shown equivalent within
    // 0.5 points either (Welch TOST p 0.280): the pick is the highest mean.
    // (The rule before picked 1 for its variance alone.)
    let RaceOutcome::Finished {
        stop: Stop::MaxSeeds,
        pick: Some(0),
        rule:
            Some(Rule::Equivalence {
                best_mean: 0,
                among,
                equivalent,
                margin,
                tost_p,
            }),
    } = &r.outcome
    else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!((among, equivalent, *margin), (&vec![0, 1, 2], &vec![], 0.5));
    assert_eq!(tost_p[0], None);
    assert!(close(tost_p[1].unwrap(), 0.2801198402005429));
    assert!(close(tost_p[2].unwrap(), 0.43610953801798036));
    assert_eq!(r.runs, 36, "the full grid: nothing saved");
    // With a margin of 1 point candidate 1 is shown equivalent (TOST p
    // 0.0284) and, steadier, is the pick; 2 is not (p 0.0905).
    let wide = RaceSettings {
        pick_rule: PickRule::new(1.0, 0.05).unwrap(),
        ..settings(3, None)
    };
    let r = race(&wide, &observations(&TIES));
    let RaceOutcome::Finished {
        pick: Some(1),
        rule: Some(Rule::Equivalence {
            equivalent, tost_p, ..
        }),
        ..
    } = &r.outcome
    else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(equivalent, &vec![1]);
    assert!(close(tost_p[1].unwrap(), 0.02844075361019064));
    assert!(close(tost_p[2].unwrap(), 0.09048751999248786));
}

#[test]
fn every_candidate_failing_ends_without_a_pick() {
    let mut obs = observations(&[KNOWN[3], KNOWN[3]]);
    // Candidate 1's runs errored instead.
    for o in obs.iter_mut().filter(|o| o.candidate == 1) {
        o.peak = None;
    }
    let r = race(&settings(2, None), &obs);
    assert_eq!(r.rounds.len(), 1);
    let e = r.rounds[0].entry(1).unwrap();
    assert_eq!((e.n, e.errored), (0, 3));
    assert_eq!(e.verdict, RaceVerdict::Eliminated(Elimination::AllFailed));
    assert_eq!(
        r.outcome,
        RaceOutcome::Finished {
            stop: Stop::AllFailed,
            pick: None,
            rule: None,
        }
    );
    assert_eq!(r.runs, 6);
}

#[test]
fn runs_at_chance_stay_in_the_statistics_of_a_candidate_that_works() {
    let mut table = TIES;
    table[2][1] = 10.0; // one diverged run out of three
    let r = race(&settings(3, None), &observations(&table));
    let e = r.rounds[0].entry(2).unwrap();
    assert_eq!((e.n, e.at_chance), (3, 1));
    assert!(close(e.mean.unwrap(), (95.5 + 10.0 + 94.8) / 3.0));
    assert!(!matches!(
        e.verdict,
        RaceVerdict::Eliminated(Elimination::AllFailed)
    ));
}

#[test]
fn the_budget_stops_the_race_before_a_round_it_cannot_pay() {
    // 9 + 9 runs fit in 20; round 3 would need 18 more, and 2 runs cannot
    // give each of 3 survivors another seed.
    let r = race(&settings(3, Some(20)), &observations(&TIES));
    assert_eq!(r.rounds.len(), 2);
    assert_eq!(r.runs, 18);
    // Variances at 6 seeds: 1.3497, 0.1347, 0.8867; candidate 1 is the
    // steadiest but not shown equivalent to 0 (TOST p 0.254): 0.
    assert!(close(
        r.rounds[1].entry(1).unwrap().variance.unwrap(),
        0.13466666666666557
    ));
    assert!(matches!(
        r.outcome,
        RaceOutcome::Finished {
            stop: Stop::Budget,
            pick: Some(0),
            ..
        }
    ));
}

#[test]
fn a_budget_that_pays_for_part_of_a_round_cuts_it_short_and_stops_after_it() {
    // 24 - 18 = 6 runs: 2 more seeds each, a last round of 8 seeds.
    let r = race(&settings(3, Some(24)), &observations(&TIES));
    assert_eq!(r.rounds.len(), 3);
    let last = &r.rounds[2];
    assert_eq!(last.seeds, 8);
    assert_eq!(r.runs, 24);
    assert!(close(
        last.entry(1).unwrap().p.unwrap(),
        0.15868253344927558
    ));
    assert!(close(
        last.entry(2).unwrap().p_holm.unwrap(),
        0.23617308221414296
    ));
    assert!(close(last.entry(1).unwrap().variance.unwrap(), 0.1));
    assert!(matches!(
        r.outcome,
        RaceOutcome::Finished {
            stop: Stop::Budget,
            pick: Some(0),
            ..
        }
    ));
    // The budget is never exceeded, whatever it is.
    for budget in 9..=40 {
        let r = race(&settings(3, Some(budget)), &observations(&TIES));
        assert!(r.runs <= budget, "budget {budget}: {} runs", r.runs);
        assert!(r.finished());
    }
}

#[test]
fn missing_runs_are_asked_for_and_any_order_gives_the_same_race() {
    let s = settings(4, None);
    // Nothing done: the first round's 12 runs.
    let r = race(&s, &[]);
    assert_eq!(r.rounds.len(), 0);
    assert_eq!(r.runs, 12);
    assert_eq!(r.missing().len(), 12);
    assert_eq!(r.missing()[0], (0, 0));
    // Round 1 done: round 2 asks seeds 3..6 of the two survivors only.
    let all = observations(&KNOWN);
    let first: Vec<Observation> = all.iter().copied().filter(|o| o.seed < 3).collect();
    let r = race(&s, &first);
    assert_eq!(r.rounds.len(), 1);
    assert_eq!(
        r.outcome,
        RaceOutcome::Running {
            round: 2,
            seeds: 6,
            missing: vec![(0, 3), (0, 4), (0, 5), (1, 3), (1, 4), (1, 5)],
        }
    );
    assert_eq!(r.runs, 18);
    // Rows in another order, with duplicates and strays, decide the same.
    let mut shuffled: Vec<Observation> = all.iter().rev().copied().collect();
    shuffled.push(Observation {
        candidate: 9,
        seed: 0,
        peak: Some(99.0),
    });
    shuffled.push(Observation {
        candidate: 0,
        seed: 40,
        peak: Some(99.0),
    });
    assert_eq!(race(&s, &shuffled), race(&s, &all));
}

#[test]
fn stopping_for_time_picks_from_the_last_decided_round() {
    let s = settings(3, None);
    let first: Vec<Observation> = observations(&TIES)
        .into_iter()
        .filter(|o| o.seed < 3)
        .collect();
    let running = race(&s, &first);
    assert!(!running.finished());
    assert_eq!(running.runs, 18);
    let stopped = running.stopped(Stop::Time, PickRule::default());
    assert_eq!(stopped.runs, 9, "the pending round is not counted");
    // Candidate 1 (96.1, 96.6, 95.7) has the lowest variance at 3 seeds, but
    // is not shown equivalent to 0 (TOST p 0.393): the highest mean.
    assert!(matches!(
        stopped.outcome,
        RaceOutcome::Finished {
            stop: Stop::Time,
            pick: Some(0),
            rule: Some(Rule::Equivalence { best_mean: 0, .. }),
        }
    ));
    // Before any round: no pick.
    let none = race(&s, &[]).stopped(Stop::Time, PickRule::default());
    assert!(matches!(
        none.outcome,
        RaceOutcome::Finished {
            stop: Stop::Time,
            pick: None,
            ..
        }
    ));
}

#[test]
fn the_interval_of_the_mean_matches_scipy() {
    // stats.t.interval(0.95, 2, loc=x.mean(), scale=stats.sem(x)) for
    // x = (96.1, 96.6, 95.7)
    let r = race(&settings(3, None), &observations(&TIES));
    let (lo, hi) = r.rounds[0].entry(1).unwrap().ci.unwrap();
    assert!(close(lo, 95.01317359706451), "{lo}");
    assert!(close(hi, 97.25349306960214), "{hi}");
}

#[test]
fn settings_are_checked() {
    let mut s = settings(3, None);
    assert!(s.validate().is_ok());
    s.initial_seeds = 1;
    assert_eq!(s.validate(), Err(RaceSettingsError::TooFewSeeds(1)));
    assert!(s.validate().unwrap_err().to_string().contains("at least 2"));
    s.initial_seeds = 13;
    assert_eq!(
        s.validate(),
        Err(RaceSettingsError::MaxBelowInitial {
            max: 12,
            initial: 13
        })
    );
    assert!(s.validate().unwrap_err().to_string().contains("max"));
    s.initial_seeds = 3;
    s.alpha = 1.5;
    assert_eq!(s.validate(), Err(RaceSettingsError::Alpha(1.5)));
    assert_eq!(
        s.validate().unwrap_err().to_string(),
        "alpha 1.5; expected 0 < alpha < 1"
    );
    assert_eq!(
        RaceSettings {
            max_seeds: 10,
            ..settings(3, None)
        }
        .schedule(),
        vec![3, 6, 10]
    );
    assert_eq!(settings(5, None).full_grid(), 60);
}

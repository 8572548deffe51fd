//! The runs of a study, in a fixed order, with an expected cost each, and
//! their deterministic split into shards balanced by that cost.

use super::study::Study;
use crate::run::{BatchSize, RunSpec};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// One run of a study.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRun {
    /// Position in the study's order (optimizer, batch size, config, seed).
    pub index: usize,
    /// `lbfgs-b64-h0-s3`: unique within the study.
    pub run_id: String,
    /// The optimizer's name.
    pub optimizer: String,
    /// The configuration's id (`h0`, ...).
    pub config_id: String,
    /// The configuration, for people.
    pub config: String,
    /// Samples per step.
    pub batch: BatchSize,
    /// Seed of the run.
    pub seed: u64,
    /// Expected cost, in sample-gradient equivalents (see [`expected_cost`]).
    pub cost: f64,
    /// The run itself.
    pub spec: RunSpec,
}

/// Expected cost of a run, in units of one sample's loss and gradient:
/// per epoch, `evaluations per step x N` for the gradients, plus the
/// optimizer's per-step vector work, plus the test evaluation (a forward
/// pass, a third of a gradient per sample). Used only to balance shards.
pub fn expected_cost(spec: &RunSpec, train_len: usize, test_len: usize) -> f64 {
    use sooth_core::OptimizerConfig as O;
    let n = train_len as f64;
    let batch = spec.batch.samples(train_len).clamp(1, train_len.max(1)) as f64;
    let steps = (n / batch).ceil();
    // Evaluations per step and per-step vector work in samples.
    let (evals, overhead) = match spec.optimizer {
        O::Sgd(_) => (1.0, 1.0),
        O::Adam(_) => (1.0, 2.0),
        O::Cg(_) => (1.4, 2.0),
        O::Lbfgs(c) => (2.0, 1.0 + 0.7 * c.history as f64),
    };
    f64::from(spec.epochs) * (evals * n + overhead * steps + test_len as f64 / 3.0)
}

/// The study's runs, in order; `train_len`/`test_len` size the costs.
pub fn plan(study: &Study, train_len: usize, test_len: usize) -> Vec<PlannedRun> {
    let model = study.model_spec();
    let mut draw = Xoshiro256PlusPlus::seed_from_u64(study.sample_seed);
    let mut runs = Vec::new();
    for opt in &study.optimizers {
        for &batch in &study.batch_sizes {
            // The (config, seed) pairs of this cell.
            let mut pairs: Vec<(usize, u64)> = Vec::new();
            for c in 0..opt.configs.len() {
                for &seed in &study.seeds {
                    pairs.push((c, seed));
                }
            }
            if let Some(k) = study.runs_per_cell
                && k < pairs.len()
            {
                let mut order: Vec<u32> = (0..pairs.len() as u32).collect();
                sooth_core::sampler::shuffle(&mut draw, &mut order);
                let mut chosen: Vec<u32> = order[..k].to_vec();
                chosen.sort_unstable();
                pairs = chosen.iter().map(|&i| pairs[i as usize]).collect();
            }
            for (c, seed) in pairs {
                let config = &opt.configs[c];
                let spec = RunSpec {
                    model: model.clone(),
                    optimizer: config.optimizer,
                    batch,
                    sampling: study.sampling,
                    last_batch: study.last_batch,
                    epochs: opt.epochs,
                    seed,
                    evaluate_train: false,
                    initial: None,
                    stopping: study.stopping,
                };
                runs.push(PlannedRun {
                    index: runs.len(),
                    run_id: format!("{}-b{}-{}-s{}", opt.name, batch, config.id, seed),
                    optimizer: opt.name.clone(),
                    config_id: config.id.clone(),
                    config: config.description.clone(),
                    batch,
                    seed,
                    cost: expected_cost(&spec, train_len, test_len),
                    spec,
                });
            }
        }
    }
    runs
}

/// A shard `K/N`: the runs of shard `index` out of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// `0..count`.
    pub index: usize,
    /// Number of shards, `>= 1`.
    pub count: usize,
}

/// Text that is not a shard `K/N` with `0 <= K < N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardSyntaxError {
    /// The text given.
    pub text: String,
}

impl std::fmt::Display for ShardSyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` is not a shard; expected K/N with 0 <= K < N, e.g. 0/4",
            self.text
        )
    }
}

impl std::error::Error for ShardSyntaxError {}

impl std::str::FromStr for Shard {
    type Err = ShardSyntaxError;
    fn from_str(s: &str) -> Result<Self, ShardSyntaxError> {
        let bad = || ShardSyntaxError {
            text: s.to_string(),
        };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Assigns every run to one of `count` shards, balancing expected cost:
/// longest expected run first, each to the shard with the least cost so far
/// (ties: the lower run index, the lower shard). Deterministic.
pub fn assign_shards(runs: &[PlannedRun], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|&a, &b| {
        runs[b]
            .cost
            .total_cmp(&runs[a].cost)
            .then(runs[a].index.cmp(&runs[b].index))
    });
    let mut load = vec![0.0f64; count.max(1)];
    let mut shard_of = vec![0; runs.len()];
    for i in order {
        let (best, _) = load
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(&b.0)))
            .expect("at least one shard");
        shard_of[i] = best;
        load[best] += runs[i].cost;
    }
    shard_of
}

/// The runs of `shard`.
pub fn shard_runs(runs: Vec<PlannedRun>, shard: Shard) -> Vec<PlannedRun> {
    let of = assign_shards(&runs, shard.count);
    runs.into_iter()
        .zip(of)
        .filter(|(_, s)| *s == shard.index)
        .map(|(r, _)| r)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_study_has_200_runs_with_unique_ids() {
        let study = Study::default_study();
        let runs = plan(&study, 1347, 450);
        assert_eq!(runs.len(), 4 * 5 * 10);
        let mut ids: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 200);
        assert_eq!(runs[0].run_id, "sgd-b8-h0-s1");
        assert_eq!(runs[199].run_id, "lbfgs-bfull-h0-s10");
    }

    #[test]
    fn shards_partition_the_runs_and_balance_cost() {
        let study = Study::default_study();
        let runs = plan(&study, 1347, 450);
        let total: f64 = runs.iter().map(|r| r.cost).sum();
        for count in [1usize, 2, 4, 7] {
            let of = assign_shards(&runs, count);
            let mut load = vec![0.0; count];
            for (r, &s) in runs.iter().zip(&of) {
                load[s] += r.cost;
            }
            let max = load.iter().cloned().fold(0.0, f64::max);
            let biggest = runs.iter().map(|r| r.cost).fold(0.0, f64::max);
            // LPT: no shard exceeds the mean by more than the largest run.
            assert!(max <= total / count as f64 + biggest, "{count}: {load:?}");
            assert_eq!(of, assign_shards(&runs, count), "deterministic");
        }
        let parts: usize = (0..4)
            .map(|k| shard_runs(runs.clone(), Shard { index: k, count: 4 }).len())
            .sum();
        assert_eq!(parts, runs.len());
    }

    #[test]
    fn runs_per_cell_draws_a_seeded_subsample() {
        let mut study = Study::from_toml(
            "[grid]\nbatch_sizes = [\"16\", \"full\"]\nseeds = 4\nruns_per_cell = 3\nsample_seed = 7\n\
             [[optimizer]]\nname = \"sgd\"\nlr = [0.01, 0.1]\n",
            "t",
        )
        .unwrap();
        let a = plan(&study, 100, 20);
        assert_eq!(a.len(), 2 * 3);
        assert_eq!(a, plan(&study, 100, 20));
        study.sample_seed = 8;
        assert_ne!(
            a.iter().map(|r| &r.run_id).collect::<Vec<_>>(),
            plan(&study, 100, 20)
                .iter()
                .map(|r| &r.run_id)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn shard_syntax() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("1/0".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }
}

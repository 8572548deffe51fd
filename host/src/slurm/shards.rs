//! Shard accounting: the pinned study, the shard directories already in the
//! results directory, how many shards there are, and each shard's progress.

use super::{PINNED_STUDY, SlurmError};
use crate::sweep::{PlannedRun, Shard, Study, assign_shards, store};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Which array tasks to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tasks {
    /// The shards whose directories lack some of their runs.
    Missing,
    /// These task indices (sorted, without duplicates).
    List(Vec<usize>),
}

/// A `--tasks` value that is neither `missing` nor a list of tasks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{part}` in `{list}` is not a task; expected `missing` or indices and ranges like 3,5 or \
     0-2,7"
)]
pub struct TaskListError {
    /// The part that is not a task or range.
    pub part: String,
    /// The whole value.
    pub list: String,
}

impl std::str::FromStr for Tasks {
    type Err = TaskListError;
    /// `missing`, or task indices and ranges separated by commas (`0-2,7`),
    /// sorted and without duplicates in the result.
    fn from_str(s: &str) -> Result<Tasks, TaskListError> {
        if s.trim() == "missing" {
            return Ok(Tasks::Missing);
        }
        let bad = |part: &str| TaskListError {
            part: part.to_string(),
            list: s.to_string(),
        };
        let mut list = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            match part.split_once('-') {
                Some((a, b)) => {
                    let a: usize = a.trim().parse().map_err(|_| bad(part))?;
                    let b: usize = b.trim().parse().map_err(|_| bad(part))?;
                    if a > b {
                        return Err(bad(part));
                    }
                    list.extend(a..=b);
                }
                None => list.push(part.parse().map_err(|_| bad(part))?),
            }
        }
        list.sort_unstable();
        list.dedup();
        Ok(Tasks::List(list))
    }
}

/// The study to run, pinned as `DIR/study.toml`: `config` if given (and the
/// same study as one pinned before), else the pinned one, else the built-in
/// default study. Refuses a study other than the pinned one, and a
/// directory that holds a merged sweep of another study.
pub fn pin_study(out: &Path, config: Option<&Path>) -> Result<Study, SlurmError> {
    let pinned = out.join(PINNED_STUDY);
    let read = |path: &Path| -> Result<(String, Study), SlurmError> {
        let text = std::fs::read_to_string(path).map_err(SlurmError::io(path))?;
        let study =
            Study::from_toml(&text, &path.display().to_string()).map_err(SlurmError::sweep)?;
        Ok((text, study))
    };
    let before = if pinned.exists() {
        Some(read(&pinned)?)
    } else {
        None
    };
    let (text, study) = match config {
        Some(path) => read(path)?,
        None => match &before {
            Some((_, study)) => return Ok(study.clone()),
            None => {
                let text = crate::sweep::DEFAULT_STUDY.trim_start().to_string();
                let study =
                    Study::from_toml(&text, "the default study").map_err(SlurmError::sweep)?;
                (text, study)
            }
        },
    };
    if let Some((_, pinned_study)) = before {
        if pinned_study.config_hash() != study.config_hash() {
            return Err(SlurmError::OtherStudyPinned {
                pinned,
                pinned_hash: pinned_study.config_hash(),
                given: config.map_or("the default study".into(), |p| p.display().to_string()),
                given_hash: study.config_hash(),
                out: out.to_path_buf(),
            });
        }
        // The same runs: keep the copy running tasks may be reading.
        return Ok(pinned_study);
    }
    if let Some(found) = store::read_manifest(out).map_err(SlurmError::sweep)?
        && found.config_hash != study.config_hash()
    {
        return Err(SlurmError::OtherSweep {
            dir: out.to_path_buf(),
            found: found.config_hash,
            wanted: study.config_hash(),
        });
    }
    store::write_atomically(&pinned, text.as_bytes()).map_err(SlurmError::sweep)?;
    Ok(study)
}

/// The `shard-K` directories in `out` that hold a sweep, with the shard
/// their manifest names, by shard index. Refuses a shard directory of
/// another study.
pub fn existing_shards(out: &Path, study: &Study) -> Result<Vec<(PathBuf, Shard)>, SlurmError> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(out).map_err(SlurmError::io(out))?;
    for entry in entries {
        let entry = entry.map_err(SlurmError::io(out))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(k) = name.strip_prefix("shard-") else {
            continue;
        };
        if k.parse::<usize>().is_err() || !entry.path().is_dir() {
            continue;
        }
        let dir = entry.path();
        let Some(manifest) = store::read_manifest(&dir).map_err(SlurmError::sweep)? else {
            continue;
        };
        if manifest.config_hash != study.config_hash() {
            return Err(SlurmError::OtherShardSweep {
                dir,
                found: manifest.config_hash,
                wanted: study.config_hash(),
            });
        }
        let Some(shard) = manifest
            .shard
            .as_deref()
            .and_then(|s| s.parse::<Shard>().ok())
        else {
            return Err(SlurmError::NotAShard(dir));
        };
        found.push((dir, shard));
    }
    found.sort_by_key(|(_, s)| s.index);
    Ok(found)
}

/// The number of shards of `out` for a study of `runs` runs: `given`,
/// checked against the shard directories already there, or what they say.
/// The result is in `1..=runs`.
pub fn shard_count(
    out: &Path,
    study: &Study,
    given: Option<usize>,
    runs: usize,
) -> Result<usize, SlurmError> {
    let existing = existing_shards(out, study)?;
    if let Some((dir, other)) = existing
        .iter()
        .find(|(_, s)| given.is_some_and(|n| n != s.count))
    {
        return Err(SlurmError::OtherShardCount {
            dir: dir.clone(),
            shard: *other,
            given: given.unwrap_or(0),
        });
    }
    let n = match (given, existing.first()) {
        (Some(n), _) => n,
        (None, Some((_, s))) => s.count,
        (None, None) => return Err(SlurmError::NoShardYet(out.to_path_buf())),
    };
    if n == 0 {
        return Err(SlurmError::ZeroShards);
    }
    if n > runs {
        return Err(SlurmError::TooManyShards { shards: n, runs });
    }
    Ok(n)
}

/// One shard's plan and progress.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardState {
    /// Runs planned.
    pub runs: usize,
    /// Share of the study's expected work, in [0, 1].
    pub share: f64,
    /// Runs with a row in the shard's directory.
    pub done: usize,
    /// Of those, runs whose status is an error.
    pub errors: usize,
}

/// Counts the finished runs of `wanted` in `dir/runs.jsonl`, and of those
/// the ones that ended in an error, without touching the file (a task may
/// be appending to it): lines that do not parse, such as a torn last line,
/// are not counted, nor are repeated rows of a run. A missing file counts
/// as none.
pub fn finished_runs(dir: &Path, wanted: &HashSet<&str>) -> Result<(usize, usize), SlurmError> {
    let path = dir.join(store::RUNS_JSONL);
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(SlurmError::io(path)(e)),
    };
    let mut seen = HashSet::new();
    let mut errors = 0;
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        if let Ok(row) = serde_json::from_str::<store::Row>(line)
            && wanted.contains(row.run_id.as_str())
            && seen.insert(row.run_id.clone())
            && row.status != "ok"
        {
            errors += 1;
        }
    }
    Ok((seen.len(), errors))
}

/// The plan and progress of each of the `n` shards of `runs` in `out`
/// (shard K in `out/shard-K`).
pub fn shard_states(
    out: &Path,
    runs: &[PlannedRun],
    n: usize,
) -> Result<Vec<ShardState>, SlurmError> {
    let of = assign_shards(runs, n);
    let total: f64 = runs.iter().map(|r| r.cost).sum();
    let mut states = Vec::with_capacity(n);
    for k in 0..n {
        let mine: Vec<&PlannedRun> = runs
            .iter()
            .zip(&of)
            .filter(|(_, s)| **s == k)
            .map(|(r, _)| r)
            .collect();
        let ids: HashSet<&str> = mine.iter().map(|r| r.run_id.as_str()).collect();
        let (done, errors) = finished_runs(&out.join(format!("shard-{k}")), &ids)?;
        let cost: f64 = mine.iter().map(|r| r.cost).sum();
        states.push(ShardState {
            runs: mine.len(),
            share: if total > 0.0 { cost / total } else { 0.0 },
            done,
            errors,
        });
    }
    Ok(states)
}

/// The indices of the shards whose directories lack runs.
pub fn incomplete(states: &[ShardState]) -> Vec<usize> {
    states
        .iter()
        .enumerate()
        .filter(|(_, s)| s.done < s.runs)
        .map(|(k, _)| k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_lists_parse() {
        assert_eq!("3,5".parse::<Tasks>(), Ok(Tasks::List(vec![3, 5])));
        assert_eq!(
            "7, 0-2,1".parse::<Tasks>(),
            Ok(Tasks::List(vec![0, 1, 2, 7]))
        );
        assert_eq!("missing".parse::<Tasks>(), Ok(Tasks::Missing));
        for bad in ["", "3-1", "a", "1,,2", "-1", "2-"] {
            let e = bad.parse::<Tasks>().unwrap_err();
            assert!(e.to_string().contains("expected `missing`"), "{bad}: {e}");
        }
        assert_eq!(
            "1,x-2".parse::<Tasks>().unwrap_err().to_string(),
            "`x-2` in `1,x-2` is not a task; expected `missing` or indices and ranges like 3,5 \
             or 0-2,7"
        );
    }

    fn state(runs: usize, done: usize) -> ShardState {
        ShardState {
            runs,
            share: 0.5,
            done,
            errors: 0,
        }
    }

    #[test]
    fn incomplete_shards_lack_runs() {
        assert_eq!(
            incomplete(&[state(3, 3), state(3, 2), state(2, 0), state(1, 1)]),
            [1, 2]
        );
        assert!(incomplete(&[state(3, 3)]).is_empty());
    }

    #[test]
    fn finished_runs_count_nothing_without_rows() {
        let dir = std::env::temp_dir().join(format!("sooth-slurm-shards-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let wanted: HashSet<&str> = ["a", "b"].into_iter().collect();
        assert_eq!(finished_runs(&dir, &wanted).unwrap(), (0, 0));
        // Lines that are not rows (or torn) are not runs.
        std::fs::write(dir.join(store::RUNS_JSONL), "not json\n{\"run_id\": \"a\"").unwrap();
        assert_eq!(finished_runs(&dir, &wanted).unwrap(), (0, 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! `sooth merge`: shard directories of one study into one directory.

use super::store::{self, CurveLine, Manifest, Row};
use super::{Study, SweepError};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What a merge produced.
#[derive(Clone, Debug, PartialEq)]
pub struct MergeOutcome {
    /// Rows in the merged directory.
    pub rows: usize,
    /// Runs of the whole study.
    pub total: usize,
}

/// Merges the `shards` (directories of sweeps of the same study) into `out`.
/// Errors on another study's directory, and on a run whose rows disagree
/// (anything but the timings).
/// A shard's `study.json` is read back option by option: a corrupt one is
/// an error naming the file and the option.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<MergeOutcome, SweepError> {
    let mut first: Option<(PathBuf, Manifest)> = None;
    let mut rows: HashMap<String, (Row, PathBuf)> = HashMap::new();
    let mut curves: Vec<CurveLine> = Vec::new();
    for dir in shards {
        let manifest =
            store::read_manifest(dir)?.ok_or_else(|| SweepError::NotASweep(dir.clone()))?;
        if let Some((first_dir, m)) = &first
            && m.config_hash != manifest.config_hash
        {
            return Err(SweepError::DifferentStudies {
                first: (first_dir.clone(), m.config_hash.clone()),
                other: (dir.clone(), manifest.config_hash.clone()),
            });
        }
        let (dir_rows, torn) = store::read_jsonl::<Row>(&dir.join(store::RUNS_JSONL))?;
        if torn {
            let _ = writeln!(
                std::io::stderr(),
                "sooth merge: {}: dropped a torn last line (a killed shard; rerun it to complete)",
                dir.display()
            );
        }
        let (dir_curves, _) = store::read_jsonl::<CurveLine>(&dir.join(store::CURVES))?;
        for row in dir_rows {
            if let Some((existing, from)) = rows.get(&row.run_id) {
                if !same_numbers(existing, &row) {
                    return Err(SweepError::RunDiffers {
                        run_id: row.run_id.clone(),
                        dirs: (from.clone(), dir.clone()),
                    });
                }
                continue;
            }
            rows.insert(row.run_id.clone(), (row, dir.clone()));
        }
        curves.extend(dir_curves);
        if first.is_none() {
            first = Some((dir.clone(), manifest));
        }
    }
    let (_, manifest) = first.ok_or(SweepError::NoShards)?;
    let study: Study = manifest.study.clone();
    std::fs::create_dir_all(out).map_err(|source| {
        SweepError::Store(store::StoreError::Io {
            path: out.to_path_buf(),
            source,
        })
    })?;
    let _lock = store::DirLock::acquire(out)?;
    if let Some(existing) = store::read_manifest(out)?
        && existing.config_hash != manifest.config_hash
    {
        return Err(SweepError::MergeTarget {
            dir: out.to_path_buf(),
            found: existing.config_hash,
        });
    }
    let (data, runs) = super::prepare(&study)?;
    let merged_manifest = super::manifest(&study, &data, runs.len(), None);
    store::write_manifest(out, &merged_manifest)?;
    let order = store::order_of(&runs);
    let rows: Vec<Row> = rows.into_values().map(|(r, _)| r).collect();
    store::write_canonical(out, &rows, &curves, &order)?;
    Ok(MergeOutcome {
        rows: rows.len(),
        total: runs.len(),
    })
}

/// True if two rows agree on everything but the timings.
pub fn same_numbers(a: &Row, b: &Row) -> bool {
    let strip = |r: &Row| {
        let mut r = r.clone();
        if let Some(res) = r.result.as_mut() {
            res.wall_seconds = 0.0;
            res.train_seconds = 0.0;
        }
        serde_json::to_string(&r).unwrap_or_default()
    };
    strip(a) == strip(b)
}

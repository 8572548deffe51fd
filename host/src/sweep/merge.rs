//! `sooth merge`: shard directories of one study into one directory.

use super::store::{self, CurveLine, Manifest, Row};
use super::{Study, SweepError};
use std::collections::{BTreeMap, HashMap};
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
///
/// Nothing is lost: rows `out` already holds (a sweep of the same study, or
/// an earlier merge) are kept, and the shards' rows are added to them; a
/// directory of another study, one shard's directory or rows without a
/// `study.json` are refused. The shards are only read (a torn last line is
/// left out, not cut off), and `out` is locked against sweeps and other
/// merges while it is written.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<MergeOutcome, SweepError> {
    if shards.is_empty() {
        return Err(SweepError::NoShards);
    }
    std::fs::create_dir_all(out).map_err(|source| {
        SweepError::Store(store::StoreError::Io {
            path: out.to_path_buf(),
            source,
        })
    })?;
    // Refused before taking the lock, which would write to the shard.
    if let Some(found) = store::read_manifest(out)?
        && let Some(shard) = found.shard
    {
        return Err(SweepError::MergeIntoShard {
            dir: out.to_path_buf(),
            shard,
        });
    }
    let _lock = store::DirLock::acquire(out)?;
    let mut first: Option<(PathBuf, Manifest)> = None;
    let mut rows: HashMap<String, (Row, PathBuf)> = HashMap::new();
    let mut curves: Vec<CurveLine> = Vec::new();
    let mut data_hashes: BTreeMap<String, (String, PathBuf)> = BTreeMap::new();
    let mut add = |dir: &Path, manifest: Manifest| -> Result<(), SweepError> {
        if let Some((first_dir, m)) = &first
            && m.config_hash != manifest.config_hash
        {
            return Err(SweepError::DifferentStudies {
                first: (first_dir.clone(), m.config_hash.clone()),
                other: (dir.to_path_buf(), manifest.config_hash.clone()),
            });
        }
        for (file, hash) in manifest.data_hashes.iter().flatten() {
            match data_hashes.get(file) {
                Some((seen, from)) if seen != hash => {
                    return Err(SweepError::DataDiffers {
                        file: file.clone(),
                        first: (from.clone(), seen.clone()),
                        other: (dir.to_path_buf(), hash.clone()),
                    });
                }
                Some(_) => {}
                None => {
                    data_hashes.insert(file.clone(), (hash.clone(), dir.to_path_buf()));
                }
            }
        }
        let (dir_rows, torn) = store::read_jsonl_untouched::<Row>(&dir.join(store::RUNS_JSONL))?;
        if torn {
            let _ = writeln!(
                std::io::stderr(),
                "sooth merge: {}: left out a torn last line (a killed shard; rerun it to complete)",
                dir.display()
            );
        }
        let (dir_curves, _) = store::read_jsonl_untouched::<CurveLine>(&dir.join(store::CURVES))?;
        for row in dir_rows {
            if let Some((existing, from)) = rows.get(&row.run_id) {
                if !same_numbers(existing, &row) {
                    return Err(SweepError::RunDiffers {
                        run_id: row.run_id.clone(),
                        dirs: (from.clone(), dir.to_path_buf()),
                    });
                }
                continue;
            }
            rows.insert(row.run_id.clone(), (row, dir.to_path_buf()));
        }
        curves.extend(dir_curves);
        if first.is_none() {
            first = Some((dir.to_path_buf(), manifest));
        }
        Ok(())
    };
    // What `out` holds already comes first: its rows are kept.
    let existing = store::read_manifest(out)?;
    let held = existing.is_some()
        || std::fs::metadata(out.join(store::RUNS_JSONL)).is_ok_and(|m| m.len() > 0);
    if let Some(found) = &existing
        && let Some(shard) = &found.shard
    {
        return Err(SweepError::MergeIntoShard {
            dir: out.to_path_buf(),
            shard: shard.clone(),
        });
    }
    if held && existing.is_none() {
        return Err(SweepError::MergeTargetUnknown(out.to_path_buf()));
    }
    for dir in shards {
        let manifest =
            store::read_manifest(dir)?.ok_or_else(|| SweepError::NotASweep(dir.clone()))?;
        if let Some(found) = &existing
            && found.config_hash != manifest.config_hash
        {
            return Err(SweepError::MergeTarget {
                dir: out.to_path_buf(),
                found: found.config_hash.clone(),
            });
        }
        add(dir, manifest)?;
    }
    if let Some(found) = existing {
        add(out, found)?;
    }
    let (_, manifest) = first.ok_or(SweepError::NoShards)?;
    let study: Study = manifest.study.clone();
    let (data, runs) = super::prepare(&study)?;
    let mut merged_manifest = super::manifest(&study, &data, runs.len(), None);
    let hashes: BTreeMap<String, String> = data_hashes
        .into_iter()
        .map(|(file, (hash, _))| (file, hash))
        .collect();
    let now = super::data_hashes(&study)?;
    super::check_data(out, Some(&hashes), now.as_ref())?;
    merged_manifest.data_hashes = if hashes.is_empty() { now } else { Some(hashes) };
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

//! A sweep's directory: the study, one row per run, per-epoch curves; all
//! written so that a kill at any moment loses at most the runs in flight.
//!
//! * `study.json`: the resolved study, its configuration hash, the data and
//!   the shard. A rerun with another configuration is refused; so is one
//!   whose data files' contents changed (`data_hashes`, kept beside the
//!   configuration hash; directories without them still resume).
//! * `runs.jsonl`: one JSON row per finished run, appended as the run ends
//!   (completion order); at the end of a sweep rewritten in study order.
//! * `curves.jsonl`: the run's epochs, appended just BEFORE its row; lines
//!   of runs without a row are dropped on resume.
//! * `runs.csv`: the rows as CSV, in study order, rewritten from
//!   `runs.jsonl` whenever a sweep or merge finishes.
//!
//! A torn last line (a kill in the middle of a write) is detected and
//! dropped on resume.

use super::plan::{PlannedRun, Shard};
use super::study::Study;
use crate::run::{EpochRecord, RunResult};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One finished run, as `runs.jsonl` and `runs.csv` hold it: the one row
/// type of the sweep (which writes `Row`), tune and merge (which read it
/// back as written) and the report (which reads `Row<ReportedResult>`,
/// [`crate::report::load::ReportedResult`], leniently, so older files
/// load).
///
/// `R` is the result part, flattened into the same JSON object; the sweep's
/// is `Option<RunResult>` (absent for an error). Reading is lenient where
/// older files differ: a `batch_size` may be a number, `config_id` and
/// `config` may be missing, unknown fields are ignored. A field of the
/// wrong type is an error naming the field and what was expected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row<R = Option<RunResult>> {
    /// Unique id within the study.
    #[serde(deserialize_with = "field::run_id")]
    pub run_id: String,
    /// Optimizer name.
    #[serde(deserialize_with = "field::optimizer")]
    pub optimizer: String,
    /// Batch size (`full` for the whole set).
    #[serde(deserialize_with = "field::batch_size")]
    pub batch_size: String,
    /// Hyperparameter configuration id (empty if the line has none).
    #[serde(default, deserialize_with = "field::config_id")]
    pub config_id: String,
    /// The configuration, for people (empty if the line has none).
    #[serde(default, deserialize_with = "field::config")]
    pub config: String,
    /// Seed.
    #[serde(deserialize_with = "field::seed")]
    pub seed: u64,
    /// `ok`, or `error: <message>`.
    #[serde(deserialize_with = "field::status")]
    pub status: String,
    /// The result (for the sweep's rows, absent for an error).
    #[serde(flatten)]
    pub result: R,
}

/// Readers of JSON fields whose errors name the field, its value and what
/// was expected (`` `seed` is "x"; expected a whole number >= 0 ``), for
/// `#[serde(deserialize_with = ...)]`. A `null` reads as absent. The
/// `named_fields!` macro makes one reader per field name.
pub mod field {
    use serde::Deserialize;
    use serde::de::{Deserializer, Error};
    use serde_json::Value;

    /// What a reader returns: the field's value, or the deserializer's
    /// error naming the field.
    pub type Read<'de, D, T> = Result<T, <D as Deserializer<'de>>::Error>;

    /// What a reader expects, for the message.
    const STRING: &str = "a string";
    const WHOLE: &str = "a whole number >= 0";
    const NUMBER: &str = "a finite number";

    fn read<'de, D: Deserializer<'de>, T>(
        d: D,
        key: &str,
        expected: &str,
        convert: impl FnOnce(&Value) -> Option<T>,
    ) -> Read<'de, D, Option<T>> {
        let value = Value::deserialize(d)?;
        if value.is_null() {
            return Ok(None);
        }
        convert(&value)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("`{key}` is {value}; expected {expected}")))
    }

    fn missing<E: Error>(key: &str, expected: &str) -> E {
        E::custom(format!("`{key}` is missing; expected {expected}"))
    }

    /// A string that is not blank.
    pub fn text<'de, D: Deserializer<'de>>(d: D, key: &str) -> Read<'de, D, String> {
        match read(d, key, STRING, |v| v.as_str().map(str::to_string))? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(D::Error::custom(format!(
                "`{key}` is empty; expected a non-empty string"
            ))),
            None => Err(missing(key, STRING)),
        }
    }

    /// A string, or `null` for absent.
    pub fn opt_text<'de, D: Deserializer<'de>>(d: D, key: &str) -> Read<'de, D, Option<String>> {
        read(d, key, STRING, |v| v.as_str().map(str::to_string))
    }

    /// A string; `null` reads as the empty string.
    pub fn text_or_empty<'de, D: Deserializer<'de>>(d: D, key: &str) -> Read<'de, D, String> {
        Ok(opt_text(d, key)?.unwrap_or_default())
    }

    /// A batch size as text: a string, or a number (older files).
    pub fn batch_text<'de, D: Deserializer<'de>>(d: D, key: &str) -> Read<'de, D, String> {
        let value = Value::deserialize(d)?;
        match value {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Null => Err(D::Error::custom(format!(
                "`{key}`: missing; expected a number of samples >= 1, or `full`"
            ))),
            v => Err(D::Error::custom(format!(
                "`{key}`: `{v}` is not a batch size; expected a number of samples >= 1, or `full`"
            ))),
        }
    }

    /// A whole number >= 0.
    pub fn whole<'de, D: Deserializer<'de>>(d: D, key: &str) -> Read<'de, D, u64> {
        opt_whole(d, key)?.ok_or_else(|| missing(key, WHOLE))
    }

    /// A whole number >= 0, or `null` for absent.
    pub fn opt_whole<'de, D: Deserializer<'de>>(d: D, key: &str) -> Read<'de, D, Option<u64>> {
        read(d, key, WHOLE, Value::as_u64)
    }

    /// A finite number, or `null` for absent.
    pub fn opt_number<'de, D: Deserializer<'de>>(d: D, key: &str) -> Read<'de, D, Option<f64>> {
        read(d, key, NUMBER, |v| v.as_f64().filter(|x| x.is_finite()))
    }

    /// `named_fields! { seed: u64 = whole; }` defines `fn seed(d)`, the
    /// reader `whole` for the field `seed`, for `deserialize_with`.
    macro_rules! named_fields {
        ($($name:ident: $t:ty = $reader:path;)*) => {
            $(
                #[doc = concat!("Reads the field `", stringify!($name), "`.")]
                pub fn $name<'de, D: serde::Deserializer<'de>>(d: D) -> $crate::sweep::store::field::Read<'de, D, $t> {
                    $reader(d, stringify!($name))
                }
            )*
        };
    }
    pub(crate) use named_fields;

    named_fields! {
        run_id: String = text;
        optimizer: String = text;
        batch_size: String = batch_text;
        config_id: String = text_or_empty;
        config: String = text_or_empty;
        seed: u64 = whole;
        status: String = text;
    }
}

/// One epoch of one run, as `curves.jsonl` holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurveLine {
    /// The run.
    pub run_id: String,
    /// The epoch's record.
    #[serde(flatten)]
    pub record: EpochRecord,
}

/// The header of a sweep directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The study's name.
    pub name: String,
    /// Hash of everything that decides the runs' numbers.
    pub config_hash: String,
    /// Content hashes of the data files the runs read (the path as the
    /// study writes it -> [`file_hash`]), beside the configuration hash so
    /// that a resume or merge on changed data is refused. `None` in
    /// directories written before sooth kept them, and for built-in data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hashes: Option<BTreeMap<String, String>>,
    /// The data set, for people.
    pub dataset: String,
    /// The model, for people (`64-32-10 relu`).
    pub model: String,
    /// Training samples.
    pub train_samples: usize,
    /// Test samples.
    pub test_samples: usize,
    /// Number of classes.
    pub classes: usize,
    /// Runs of the whole study.
    pub total_runs: usize,
    /// The shard this directory holds (`K/N`), if any.
    pub shard: Option<String>,
    /// Epochs per optimizer.
    pub epochs: BTreeMap<String, u32>,
    /// Batch sizes, in grid order.
    pub batch_sizes: Vec<String>,
    /// Seeds per configuration.
    pub seeds: usize,
    /// Optimizer names, in grid order.
    pub optimizers: Vec<String>,
    /// sooth's version.
    pub sooth_version: String,
    /// The resolved study.
    pub study: Study,
}

pub(crate) const STUDY: &str = "study.json";
pub(crate) const RUNS_JSONL: &str = "runs.jsonl";
pub(crate) const RUNS_CSV: &str = "runs.csv";
pub(crate) const CURVES: &str = "curves.jsonl";

/// Why reading or writing a sweep directory failed; every message names
/// the file (or directory).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read, written, renamed or locked.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file could not be written (the previous one is intact).
    #[error(transparent)]
    Write(#[from] crate::atomic::AtomicWriteError),
    /// `study.json` is not a sweep's manifest.
    #[error("{}: {source}; expected a sweep's study.json", path.display())]
    Manifest {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        source: serde_json::Error,
    },
    /// A line other than the last of a JSON-lines file does not parse.
    #[error("{}:{line}: {source}; expected one JSON object per line", path.display())]
    BadLine {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// The parser's message.
        source: serde_json::Error,
    },
    /// A line other than the last of a JSON-lines file is not UTF-8.
    #[error("{}:{line}: not UTF-8; expected one JSON object per line", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
    },
    /// A value could not be serialised to JSON.
    #[error(transparent)]
    Serialize(#[from] serde_json::Error),
    /// Another process holds the directory's lock ([`DirLock`]).
    #[error(
        "{}: another sweep (process {pid} on {host}) is writing this directory; \
         wait for it to finish",
        dir.display()
    )]
    Locked {
        /// The sweep directory.
        dir: PathBuf,
        /// The holder's host name (`?` if unknown).
        host: String,
        /// The holder's process id (`?` if unknown).
        pid: String,
    },
}

fn io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads `study.json` of `dir`, if there is one.
///
/// # Errors
/// [`StoreError::Io`] for an unreadable file, [`StoreError::Manifest`] for
/// one that is not a manifest.
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, StoreError> {
    let path = dir.join(STUDY);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| StoreError::Manifest { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path, e)),
    }
}

/// FNV-1a hash (16 hex digits) of the bytes of the file at `path`, read in
/// blocks: the content hash a manifest keeps of each data file.
///
/// # Errors
/// [`StoreError::Io`] naming the file.
pub fn file_hash(path: &Path) -> Result<String, StoreError> {
    use std::io::Read;
    let mut file = File::open(path).map_err(|e| io(path, e))?;
    let mut block = vec![0u8; 1 << 16];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    loop {
        let n = match file.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(path, e)),
        };
        for &b in &block[..n] {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    Ok(format!("{h:016x}"))
}

/// Writes `study.json` atomically.
///
/// # Errors
/// [`StoreError::Io`] for a file that cannot be written.
pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), StoreError> {
    let json = serde_json::to_string_pretty(manifest)?;
    write_atomically(&dir.join(STUDY), format!("{json}\n").as_bytes())
}

/// Writes `path` atomically (see [`crate::atomic::write_file`]).
///
/// # Errors
/// [`StoreError::Write`] naming `path`; the previous file is intact.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    Ok(crate::atomic::write_file(path, bytes)?)
}

/// Reads a JSON-lines file of `T`, dropping a torn last line (no newline,
/// or not valid JSON) and truncating the file to its last whole line.
/// Returns the items and whether a line was dropped. A bad line elsewhere
/// is an error naming the file and line.
///
/// # Errors
/// [`StoreError::BadLine`] or [`StoreError::NotUtf8`] for a bad line that
/// is not the last, [`StoreError::Io`] for a file that cannot be read or
/// truncated.
pub fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<(Vec<T>, bool), StoreError> {
    let (items, torn, good_end) = parse_jsonl(path)?;
    if torn {
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        f.set_len(good_end as u64).map_err(|e| io(path, e))?;
    }
    Ok((items, torn))
}

/// Reads a JSON-lines file of `T` as [`read_jsonl`] does, but leaves the
/// file as it is (a torn last line is dropped in memory only): for reading
/// directories this process does not own, such as `sooth merge`'s inputs.
///
/// # Errors
/// As [`read_jsonl`], except that nothing is written.
pub fn read_jsonl_untouched<T: for<'de> Deserialize<'de>>(
    path: &Path,
) -> Result<(Vec<T>, bool), StoreError> {
    parse_jsonl(path).map(|(items, torn, _)| (items, torn))
}

/// The items of a JSON-lines file, whether its last line is torn, and the
/// byte length of its whole lines.
fn parse_jsonl<T: for<'de> Deserialize<'de>>(
    path: &Path,
) -> Result<(Vec<T>, bool, usize), StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), false, 0)),
        Err(e) => return Err(io(path, e)),
    };
    let mut items = Vec::new();
    let mut good_end = 0;
    let mut torn = false;
    let mut start = 0;
    let mut line_no = 0;
    while start < bytes.len() {
        line_no += 1;
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| start + p);
        let (line, next) = match end {
            Some(e) => (&bytes[start..e], e + 1),
            None => (&bytes[start..], bytes.len()),
        };
        let is_last = next >= bytes.len();
        let parsed = std::str::from_utf8(line)
            .ok()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str::<T>);
        match parsed {
            Some(Ok(item)) if end.is_some() => {
                items.push(item);
                good_end = next;
            }
            None if end.is_some() => good_end = next, // blank line
            _ if is_last => {
                torn = true;
                break;
            }
            Some(Err(source)) => {
                return Err(StoreError::BadLine {
                    path: path.to_path_buf(),
                    line: line_no,
                    source,
                });
            }
            _ => {
                return Err(StoreError::NotUtf8 {
                    path: path.to_path_buf(),
                    line: line_no,
                });
            }
        }
        start = next;
    }
    Ok((items, torn, good_end))
}

/// Appends whole lines in one write and flushes them to disk.
///
/// # Errors
/// [`StoreError::Io`] naming `path`.
pub fn append_lines(path: &Path, lines: &str) -> Result<(), StoreError> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io(path, e))?;
    f.write_all(lines.as_bytes()).map_err(|e| io(path, e))?;
    f.sync_data().map_err(|e| io(path, e))
}

/// A row's JSON line.
pub fn row_line(row: &Row) -> String {
    let mut s = serde_json::to_string(row).unwrap_or_default();
    s.push('\n');
    s
}

/// The JSON lines of a run's curve.
pub fn curve_lines(run_id: &str, curve: &[EpochRecord]) -> String {
    let mut s = String::new();
    for record in curve {
        let line = CurveLine {
            run_id: run_id.to_string(),
            record: record.clone(),
        };
        s.push_str(&serde_json::to_string(&line).unwrap_or_default());
        s.push('\n');
    }
    s
}

/// The columns of `runs.csv`.
pub const CSV_COLUMNS: [&str; 25] = [
    "run_id",
    "optimizer",
    "batch_size",
    "config_id",
    "config",
    "seed",
    "status",
    "peak_test_accuracy",
    "peak_epoch",
    "final_test_accuracy",
    "final_test_loss",
    "final_train_loss",
    "epochs",
    "evaluations",
    "gradients",
    "recoveries",
    "line_search_failures",
    "wall_seconds",
    "train_seconds",
    "param_hash",
    "selected_epoch",
    "selected_validation_accuracy",
    "selected_test_accuracy",
    "stop_reason",
    "index",
];

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(v: f64) -> String {
    if v.is_finite() {
        v.to_string()
    } else {
        String::new()
    }
}

/// The rows as CSV (header + one line each, in the given order).
pub fn rows_csv(rows: &[(usize, &Row)]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for (index, row) in rows {
        let mut cells = vec![
            csv_cell(&row.run_id),
            csv_cell(&row.optimizer),
            csv_cell(&row.batch_size),
            csv_cell(&row.config_id),
            csv_cell(&row.config),
            row.seed.to_string(),
            csv_cell(&row.status),
        ];
        match &row.result {
            Some(r) => cells.extend([
                num(r.peak_test_accuracy),
                r.peak_epoch.to_string(),
                num(r.final_test_accuracy),
                num(r.final_test_loss),
                num(r.final_train_loss),
                r.epochs.to_string(),
                r.evaluations.to_string(),
                r.gradients.to_string(),
                r.recoveries.to_string(),
                r.line_search_failures.to_string(),
                num(r.wall_seconds),
                num(r.train_seconds),
                r.param_hash.clone(),
                r.selected_epoch.map_or(String::new(), |e| e.to_string()),
                r.selected_validation_accuracy.map_or(String::new(), num),
                r.selected_test_accuracy.map_or(String::new(), num),
                csv_cell(r.stop_reason.as_deref().unwrap_or("")),
            ]),
            None => cells.extend(std::iter::repeat_n(String::new(), 17)),
        }
        cells.push(index.to_string());
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// Rewrites `runs.jsonl`, `runs.csv` and `curves.jsonl` of `dir` in study
/// order (`order` maps run ids to positions); keeps only curves of rows.
///
/// # Errors
/// [`StoreError::Io`] naming the file that cannot be written.
pub fn write_canonical(
    dir: &Path,
    rows: &[Row],
    curves: &[CurveLine],
    order: &HashMap<String, usize>,
) -> Result<(), StoreError> {
    let position = |id: &str| order.get(id).copied().unwrap_or(usize::MAX);
    let mut sorted: Vec<(usize, &Row)> = rows.iter().map(|r| (position(&r.run_id), r)).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.run_id.cmp(&b.1.run_id)));
    let mut jsonl = String::new();
    for (_, row) in &sorted {
        jsonl.push_str(&row_line(row));
    }
    let have: HashMap<&str, ()> = rows.iter().map(|r| (r.run_id.as_str(), ())).collect();
    let mut lines: Vec<&CurveLine> = curves
        .iter()
        .filter(|c| have.contains_key(c.run_id.as_str()))
        .collect();
    lines.sort_by(|a, b| {
        position(&a.run_id)
            .cmp(&position(&b.run_id))
            .then(a.run_id.cmp(&b.run_id))
            .then(a.record.epoch.cmp(&b.record.epoch))
    });
    lines.dedup_by(|a, b| a.run_id == b.run_id && a.record.epoch == b.record.epoch);
    let mut curve_text = String::new();
    for line in lines {
        curve_text.push_str(&serde_json::to_string(line).unwrap_or_default());
        curve_text.push('\n');
    }
    // Curves before rows, as during a sweep: a kill in between leaves
    // curves without rows, which the next read drops.
    write_atomically(&dir.join(CURVES), curve_text.as_bytes())?;
    write_atomically(&dir.join(RUNS_JSONL), jsonl.as_bytes())?;
    write_atomically(&dir.join(RUNS_CSV), rows_csv(&sorted).as_bytes())
}

/// The run order of a plan, by id.
pub fn order_of(runs: &[PlannedRun]) -> HashMap<String, usize> {
    runs.iter().map(|r| (r.run_id.clone(), r.index)).collect()
}

/// An exclusive hold on a sweep directory: an OS file lock (`flock`) on
/// `.sooth-sweep.lock`, which also names the holder (`host pid`) for the
/// error message. The OS releases the lock when the process ends, however
/// it ends (kill -9, SIGTERM from `scancel`), so a killed sweep never
/// blocks the next one.
pub struct DirLock {
    _file: File,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// The lock file's name inside a sweep directory.
pub const LOCK_FILE: &str = ".sooth-sweep.lock";

impl DirLock {
    /// Locks `dir`, or explains who holds it.
    ///
    /// # Errors
    /// [`StoreError::Locked`] while another process holds the lock,
    /// [`StoreError::Io`] for a lock file that cannot be opened or written.
    pub fn acquire(dir: &Path) -> Result<DirLock, StoreError> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {
                let me = format!("{} {}", hostname(), std::process::id());
                file.set_len(0).map_err(|e| io(&path, e))?;
                file.write_all(me.as_bytes()).map_err(|e| io(&path, e))?;
                Ok(DirLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let mut parts = holder.split_whitespace();
                let (host, pid) = (parts.next().unwrap_or("?"), parts.next().unwrap_or("?"));
                Err(StoreError::Locked {
                    dir: dir.to_path_buf(),
                    host: host.to_string(),
                    pid: pid.to_string(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(io(&path, e)),
        }
    }
}

/// Describes a shard for the manifest.
pub fn shard_label(shard: Option<Shard>) -> Option<String> {
    shard.map(|s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> Row {
        Row {
            run_id: id.into(),
            optimizer: "sgd".into(),
            batch_size: "8".into(),
            config_id: "h0".into(),
            config: "sgd (lr 0.1, heavy-ball momentum 0.9)".into(),
            seed: 1,
            status: "ok".into(),
            result: Some(RunResult {
                peak_test_accuracy: 0.9,
                peak_epoch: 3,
                final_test_accuracy: 0.8,
                final_test_loss: f64::INFINITY,
                final_train_loss: 0.1,
                epochs: 5,
                selected_epoch: None,
                selected_validation_accuracy: None,
                selected_test_accuracy: None,
                stop_reason: None,
                evaluations: 10,
                gradients: 10,
                recoveries: 0,
                line_search_failures: 0,
                wall_seconds: 0.5,
                train_seconds: 0.4,
                param_hash: "00ff".into(),
            }),
        }
    }

    #[test]
    fn rows_round_trip_through_json_with_non_finite_values() {
        let r = row("a");
        let line = row_line(&r);
        assert!(line.contains("\"final_test_loss\":null"), "{line}");
        let back: Row = serde_json::from_str(&line).unwrap();
        assert!(back.result.as_ref().unwrap().final_test_loss.is_nan());
        let err = Row {
            status: "error: batch size 9999 is invalid".into(),
            result: None,
            ..row("b")
        };
        let back: Row = serde_json::from_str(&row_line(&err)).unwrap();
        assert_eq!(back, err);
    }

    #[test]
    fn rows_of_older_files_load_and_a_bad_field_is_named() {
        let line = r#"{"run_id":"a","optimizer":"sgd","batch_size":8,"seed":1,"status":"error: x","extra":[1]}"#;
        let r: Row = serde_json::from_str(line).unwrap();
        assert_eq!(
            (
                r.batch_size.as_str(),
                r.config_id.as_str(),
                r.config.as_str()
            ),
            ("8", "", "")
        );
        assert_eq!(r.result, None);
        let e = serde_json::from_str::<Row>(&line.replace("\"seed\":1", "\"seed\":\"x\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("`seed` is \"x\"; expected a whole number >= 0"),
            "{e}"
        );
        let e = serde_json::from_str::<Row>(&line.replace("\"run_id\":\"a\"", "\"run_id\":7"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("`run_id` is 7; expected a string"), "{e}");
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_the_file_truncated() {
        let dir = std::env::temp_dir().join(format!("sooth-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runs.jsonl");
        let whole = format!("{}{}", row_line(&row("a")), row_line(&row("b")));
        let torn = &row_line(&row("c"))[..40];
        std::fs::write(&path, format!("{whole}{torn}")).unwrap();
        let (rows, dropped) = read_jsonl::<Row>(&path).unwrap();
        assert!(dropped);
        assert_eq!(rows.len(), 2);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        // A complete last line without its newline is torn too.
        let no_newline = row_line(&row("c"));
        std::fs::write(&path, format!("{whole}{}", no_newline.trim_end())).unwrap();
        let (rows, dropped) = read_jsonl::<Row>(&path).unwrap();
        assert!(dropped && rows.len() == 2);
        // A bad line in the middle is an error naming the line.
        std::fs::write(
            &path,
            format!("{}garbage\n{}", row_line(&row("a")), row_line(&row("b"))),
        )
        .unwrap();
        let e = read_jsonl::<Row>(&path).unwrap_err();
        assert!(matches!(e, StoreError::BadLine { line: 2, .. }), "{e:?}");
        let e = e.to_string();
        assert!(e.contains("runs.jsonl:2:"), "{e}");
        assert!(e.ends_with("; expected one JSON object per line"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_has_one_writer_at_a_time() {
        let dir = std::env::temp_dir().join(format!("sooth-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let held = DirLock::acquire(&dir).unwrap();
        let e = DirLock::acquire(&dir)
            .err()
            .expect("a second writer is refused");
        assert!(matches!(e, StoreError::Locked { .. }), "{e:?}");
        let e = e.to_string();
        assert!(
            e.contains(&format!("process {}", std::process::id())),
            "{e}"
        );
        drop(held);
        DirLock::acquire(&dir).expect("free again once the holder is gone");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn csv_quotes_cells_with_commas() {
        let r = row("a");
        let csv = rows_csv(&[(0, &r)]);
        let line = csv.lines().nth(1).unwrap();
        assert!(
            line.starts_with(
                "a,sgd,8,h0,\"sgd (lr 0.1, heavy-ball momentum 0.9)\",1,ok,0.9,3,0.8,,0.1,"
            ),
            "{line}"
        );
        assert_eq!(
            csv.lines().next().unwrap().split(',').count(),
            CSV_COLUMNS.len()
        );
    }
}

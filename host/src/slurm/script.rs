//! The two job scripts (the array of shards and the merge job), and the
//! quoting and checks that keep what they hold intact.

use super::{LOGS, PINNED_STUDY, SWEEP_SCRIPT, SlurmError};
use std::fmt::Write as _;
use std::path::Path;

/// Task indices as an sbatch `--array` list: `0-2,7`. Expects `tasks`
/// sorted without duplicates (as [`super::Tasks`] holds them); an empty
/// slice gives an empty list.
pub fn array_list(tasks: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < tasks.len() {
        let mut j = i;
        while j + 1 < tasks.len() && tasks[j + 1] == tasks[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j == i {
            let _ = write!(out, "{}", tasks[i]);
        } else {
            let _ = write!(out, "{}-{}", tasks[i], tasks[j]);
        }
        i = j + 1;
    }
    out
}

/// `s` quoted for the shell (single quotes): bash reads it back as `s`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `s` for a command line people copy: as is if the shell leaves it alone,
/// else [`shell_quote`]d.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
    {
        s.to_string()
    } else {
        shell_quote(s)
    }
}

/// A path as text that an `#SBATCH` line can hold (it is not parsed by a
/// shell, and `%` starts a Slurm file-name pattern), or why not; `what` names
/// the flag it came from in the message.
pub fn sbatch_path(path: &Path, what: &str) -> Result<String, SlurmError> {
    let text = path.to_str().ok_or_else(|| SlurmError::PathNotUtf8 {
        what: what.to_string(),
        path: path.to_path_buf(),
    })?;
    if let Some(c) = text
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "%\"'\\".contains(*c))
    {
        return Err(SlurmError::PathUnfit {
            what: what.to_string(),
            path: text.to_string(),
            found: c,
        });
    }
    Ok(text.to_string())
}

/// Checks a value for the `#SBATCH` option `flag` (`--mem`): one word,
/// without spaces or control characters.
pub fn sbatch_value(flag: &str, value: &str) -> Result<(), SlurmError> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SlurmError::NotOneWord {
            flag: flag.to_string(),
            value: value.to_string(),
        });
    }
    Ok(())
}

/// Checks an extra `#SBATCH` option (`--qos=short`): it starts with `-`
/// and holds no control character.
pub fn sbatch_option(option: &str) -> Result<(), SlurmError> {
    if !option.starts_with('-') || option.chars().any(char::is_control) {
        return Err(SlurmError::NotAnSbatchOption(option.to_string()));
    }
    Ok(())
}

/// A job name from the results directory's name: `sooth-<name>`, one word
/// of at most 40 characters after the prefix (others become `_`), or
/// `sooth` when the directory has no name.
pub fn job_name(out: &Path) -> String {
    let base = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if clean.is_empty() {
        "sooth".into()
    } else {
        format!("sooth-{clean}")
    }
}

/// The resources and paths the two job scripts are written from. The
/// values go into `#SBATCH` lines as they are: check them with
/// [`sbatch_path`], [`sbatch_value`] and [`sbatch_option`] first.
#[derive(Clone, Debug, PartialEq)]
pub struct JobScripts {
    /// The results directory (absolute).
    pub out: String,
    /// The sooth binary (absolute).
    pub sooth: String,
    /// Number of shards, `>= 1`.
    pub shards: usize,
    /// A name for the jobs (`sooth-<dir name>`, see [`job_name`]).
    pub name: String,
    /// CPUs per task.
    pub cpus_per_task: usize,
    /// `--mem`.
    pub mem: Option<String>,
    /// `--time`.
    pub time: Option<String>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// More `#SBATCH` options.
    pub extra: Vec<String>,
}

impl JobScripts {
    /// The `#SBATCH` lines both jobs share.
    fn common_options(&self) -> String {
        let mut s = String::new();
        for (flag, value) in [
            ("mem", &self.mem),
            ("time", &self.time),
            ("partition", &self.partition),
            ("account", &self.account),
        ] {
            if let Some(v) = value {
                let _ = writeln!(s, "#SBATCH --{flag}={v}");
            }
        }
        for option in &self.extra {
            let _ = writeln!(s, "#SBATCH {option}");
        }
        s
    }

    /// The job array's script: task K sweeps shard K/N of the pinned study
    /// into `DIR/shard-K`.
    pub fn sweep_script(&self) -> String {
        format!(
            r#"#!/bin/bash
# Written by `sooth slurm` (sooth {version}): task K of this job array runs
# shard K/{n} of the study pinned in {out}/{pinned} into {out}/shard-K.
# A task resumes its shard, so resubmitting is safe and reruns only what is
# missing: `sbatch --array=3,5 {script}` reruns shards 3 and 5.
# Without Slurm: SLURM_ARRAY_TASK_ID=3 bash {script}
#SBATCH --job-name={name}
#SBATCH --array={array}
#SBATCH --ntasks=1
#SBATCH --cpus-per-task={cpus}
{common}#SBATCH --output={out}/{logs}/shard-%a.%A.out
set -euo pipefail
sooth={sooth}
out={out_q}
shards={n}
k=${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}}
threads=${{SLURM_CPUS_PER_TASK:-{cpus}}}
echo "sooth slurm: shard $k/$shards, job ${{SLURM_ARRAY_JOB_ID:-none}}_$k on $(hostname), CPUs: $threads, $(date)"
# Idempotent: a rerun of this task (after scancel, a time limit or a node
# failure) resumes the shard; the sweep's directory lock is an OS lock that
# ends with the process that held it.
# Exit status {runs_failed}: the shard finished, but some of its runs ended in
# an error. Its rows are saved, so the task is done (the merge job runs and
# reports the failures, and --tasks missing does not resubmit it).
status=0
"$sooth" sweep --config "$out/{pinned}" --shard "$k/$shards" --out "$out/shard-$k" --threads "$threads" || status=$?
if ((status == {runs_failed})); then
    echo "sooth slurm: shard $k/$shards finished, but some of its runs failed; the merge job's report lists them" >&2
    status=0
fi
exit "$status"
"#,
            version = env!("CARGO_PKG_VERSION"),
            n = self.shards,
            out = self.out,
            out_q = shell_quote(&self.out),
            pinned = PINNED_STUDY,
            script = SWEEP_SCRIPT,
            name = self.name,
            array = array_list(&(0..self.shards).collect::<Vec<_>>()),
            cpus = self.cpus_per_task,
            common = self.common_options(),
            logs = LOGS,
            sooth = shell_quote(&self.sooth),
            runs_failed = crate::sweep::EXIT_RUNS_FAILED,
        )
    }

    /// The merge job's script: all shards into `DIR`, then the report if
    /// this sooth has the command.
    pub fn merge_script(&self) -> String {
        format!(
            r#"#!/bin/bash
# Written by `sooth slurm` (sooth {version}): merges the {n} shards in {out}
# into {out} and writes the report. Submitted with
# --dependency=afterok:<array job>; cancelled by Slurm if a task fails.
# Ends with exit status {runs_failed} when the report is written but some runs
# ended in an error.
#SBATCH --job-name={name}-merge
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
{common}#SBATCH --kill-on-invalid-dep=yes
#SBATCH --output={out}/{logs}/merge.%j.out
set -euo pipefail
sooth={sooth}
out={out_q}
shards={n}
dirs=()
for ((k = 0; k < shards; k++)); do dirs+=("$out/shard-$k"); done
"$sooth" merge --out "$out" "${{dirs[@]}}"
if "$sooth" help report >/dev/null 2>&1; then
    "$sooth" report "$out"
else
    echo "this sooth has no report command; the results are in $out/runs.csv"
fi
"#,
            version = env!("CARGO_PKG_VERSION"),
            n = self.shards,
            out = self.out,
            out_q = shell_quote(&self.out),
            name = self.name,
            common = self.common_options(),
            logs = LOGS,
            sooth = shell_quote(&self.sooth),
            runs_failed = crate::sweep::EXIT_RUNS_FAILED,
        )
    }
}

/// The number of shards `DIR/sweep.sbatch` (as written) runs, if it is
/// there and readable.
pub fn scripted_shards(out: &Path) -> Option<usize> {
    let script = std::fs::read_to_string(out.join(SWEEP_SCRIPT)).ok()?;
    script
        .lines()
        .find_map(|l| l.strip_prefix("shards="))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs() -> JobScripts {
        JobScripts {
            out: "/scratch/me/runs".into(),
            sooth: "/home/me/bin/it's sooth".into(),
            shards: 4,
            name: "sooth-runs".into(),
            cpus_per_task: 2,
            mem: Some("1G".into()),
            time: None,
            partition: Some("short".into()),
            account: None,
            extra: vec!["--qos=low".into()],
        }
    }

    #[test]
    fn array_lists_compact_runs() {
        assert_eq!(array_list(&[0, 1, 2, 7]), "0-2,7");
        assert_eq!(array_list(&[3, 5]), "3,5");
        assert_eq!(array_list(&[4]), "4");
        assert_eq!(array_list(&[0, 1, 3, 4, 5, 9]), "0-1,3-5,9");
        assert_eq!(array_list(&[]), "");
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_word("/a/b-c.sbatch"), "/a/b-c.sbatch");
        assert_eq!(shell_word("/my runs/x"), "'/my runs/x'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn sbatch_lines_refuse_what_they_cannot_hold() {
        assert_eq!(
            sbatch_path(Path::new("/scratch/a-b_c.d"), "--out").unwrap(),
            "/scratch/a-b_c.d"
        );
        for bad in ["/my runs", "/100%", "/a\"b", "/a\\b", "/a\nb"] {
            let e = sbatch_path(Path::new(bad), "--out").unwrap_err();
            assert!(matches!(e, SlurmError::PathUnfit { .. }), "{bad}: {e:?}");
            assert!(
                e.to_string().contains("#SBATCH lines cannot hold"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            sbatch_path(Path::new("/100%"), "--out")
                .unwrap_err()
                .to_string(),
            "--out /100%: contains '%', which #SBATCH lines cannot hold; choose a directory \
             without spaces, quotes, backslashes or %"
        );
        assert!(sbatch_value("--mem", "2G").is_ok());
        assert_eq!(
            sbatch_value("--time", "1:00:00 x").unwrap_err().to_string(),
            "invalid value \"1:00:00 x\" for '--time': expected one word without spaces"
        );
        assert!(sbatch_value("--account", "").is_err());
        assert!(sbatch_option("--qos=short").is_ok());
        assert_eq!(
            sbatch_option("qos=short").unwrap_err().to_string(),
            "invalid value \"qos=short\" for '--sbatch-option': expected one sbatch option \
             such as --qos=short"
        );
        assert!(sbatch_option("--a\nb").is_err());
    }

    #[test]
    fn the_array_script_runs_shard_k_of_n_with_its_resources() {
        let s = jobs().sweep_script();
        let sbatch: Vec<&str> = s.lines().filter(|l| l.starts_with("#SBATCH")).collect();
        assert_eq!(
            sbatch,
            [
                "#SBATCH --job-name=sooth-runs",
                "#SBATCH --array=0-3",
                "#SBATCH --ntasks=1",
                "#SBATCH --cpus-per-task=2",
                "#SBATCH --mem=1G",
                "#SBATCH --partition=short",
                "#SBATCH --qos=low",
                "#SBATCH --output=/scratch/me/runs/logs/shard-%a.%A.out",
            ]
        );
        assert!(s.contains(r"sooth='/home/me/bin/it'\''s sooth'"), "{s}");
        assert!(s.contains("shards=4\n"));
        assert!(s.contains(
            "\n\"$sooth\" sweep --config \"$out/study.toml\" --shard \"$k/$shards\" \
             --out \"$out/shard-$k\" --threads \"$threads\" || status=$?\n"
        ));
        // "Finished, but runs failed" is a finished task.
        assert!(s.contains("if ((status == 3)); then\n"), "{s}");
        assert!(s.ends_with("    status=0\nfi\nexit \"$status\"\n"), "{s}");
    }

    #[test]
    fn the_merge_script_merges_every_shard_and_dies_with_a_failed_task() {
        let s = jobs().merge_script();
        assert!(s.contains("#SBATCH --kill-on-invalid-dep=yes\n"));
        assert!(s.contains("#SBATCH --output=/scratch/me/runs/logs/merge.%j.out\n"));
        assert!(s.contains("#SBATCH --cpus-per-task=1\n"));
        assert!(s.contains("\"$sooth\" merge --out \"$out\" \"${dirs[@]}\""));
        assert!(s.contains("if \"$sooth\" help report"));
        assert!(!s.contains("--array"));
    }

    #[test]
    fn job_names_are_one_word() {
        assert_eq!(job_name(Path::new("/x/my study (2)")), "sooth-my_study__2_");
        assert_eq!(job_name(Path::new("/")), "sooth");
    }

    #[test]
    fn the_shard_count_is_read_back_from_the_script() {
        let dir = std::env::temp_dir().join(format!("sooth-slurm-script-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(scripted_shards(&dir), None);
        let mut jobs = jobs();
        jobs.shards = 7;
        std::fs::write(dir.join(SWEEP_SCRIPT), jobs.sweep_script()).unwrap();
        assert_eq!(scripted_shards(&dir), Some(7));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

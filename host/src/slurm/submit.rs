//! Submission: `sbatch --parsable` for the array and the merge job, and
//! reading the job id it prints.

use super::{SlurmError, WrittenJobs};
use std::process::Command;

/// The job id in what `sbatch --parsable` printed (`jobid` or
/// `jobid;cluster`), if it is one.
pub fn parse_job_id(stdout: &str) -> Option<&str> {
    let id = stdout.trim().split(';').next().unwrap_or("").trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then_some(id)
}

/// Runs `sbatch --parsable ARGS` (the `sbatch` on the PATH); returns the
/// job id.
pub fn sbatch(args: &[String]) -> Result<String, SlurmError> {
    let command = format!("sbatch --parsable {}", args.join(" "));
    let output = match Command::new("sbatch").arg("--parsable").args(args).output() {
        Ok(output) => output,
        Err(source) => return Err(SlurmError::SbatchNotFound { command, source }),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(SlurmError::SbatchFailed {
            command,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    match parse_job_id(&stdout) {
        Some(id) => Ok(id.to_string()),
        None => Err(SlurmError::NoJobId {
            command,
            stdout: stdout.trim().to_string(),
        }),
    }
}

/// The jobs [`submit`] submitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The array job's id; `None` when every shard was complete.
    pub array_job: Option<String>,
    /// The merge job's id.
    pub merge_job: String,
}

/// Submits the array (the tasks [`WrittenJobs::array_args`] names, unless
/// there is nothing to run) and then the merge job, after every task of the
/// array succeeds. If the merge job fails to submit after the array did,
/// the error is [`SlurmError::MergeNotSubmitted`], which says how to submit
/// it by hand.
pub fn submit(jobs: &WrittenJobs) -> Result<Submitted, SlurmError> {
    let array_job = if jobs.nothing_to_run() {
        None
    } else {
        Some(sbatch(&jobs.array_args())?)
    };
    let mut merge_args = Vec::new();
    if let Some(id) = &array_job {
        merge_args.push(format!("--dependency=afterok:{id}"));
    }
    merge_args.push(jobs.merge_arg());
    let merge_job = sbatch(&merge_args).map_err(|e| match &array_job {
        Some(id) => SlurmError::MergeNotSubmitted {
            array_job: id.clone(),
            merge_script: jobs.merge_script.clone(),
            source: Box::new(e),
        },
        None => e,
    })?;
    Ok(Submitted {
        array_job,
        merge_job,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_come_with_or_without_a_cluster() {
        assert_eq!(parse_job_id("41\n"), Some("41"));
        assert_eq!(parse_job_id("42;cluster1\n"), Some("42"));
        assert_eq!(parse_job_id(""), None);
        assert_eq!(parse_job_id("Submitted batch job 43"), None);
        assert_eq!(parse_job_id(";cluster"), None);
    }
}

//! Standard output and standard error for the commands, without panics.
//!
//! `println!` panics when stdout is a closed pipe or a full disk. The
//! commands print through `outln!` and `out!` instead, which return an
//! error the command passes up with `?`:
//! - a closed pipe (`sooth report dir | head -1`) ends the command at once,
//!   quietly, with exit status [`EXIT_BROKEN_PIPE`] (141 = 128 + SIGPIPE, what
//!   a shell reports for a Unix tool that the same pipe ended);
//! - any other write error (`> /dev/full`) is reported on stderr as
//!   `error: writing to standard output: ...` with exit status 1.
//!
//! Messages on stderr go through `errln!`, which ignores write errors:
//! there is nowhere left to report them.

use std::fmt;
use std::io::{self, Write};

/// The exit status when stdout was closed by its reader.
pub const EXIT_BROKEN_PIPE: i32 = 141;

/// Stdout could not be written (other than a closed pipe, which ends the
/// process: see the module documentation).
#[derive(Debug, thiserror::Error)]
#[error("writing to standard output: {0}")]
pub struct OutputError(#[from] io::Error);

impl From<OutputError> for String {
    fn from(e: OutputError) -> String {
        e.to_string()
    }
}

/// Writes `args` to stdout and flushes it (so that an error shows here and
/// not, silently, at exit). A closed pipe ends the process with
/// [`EXIT_BROKEN_PIPE`]; other errors are returned.
pub fn write_stdout(args: fmt::Arguments) -> Result<(), OutputError> {
    let mut stdout = io::stdout().lock();
    match stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) => Err(stdout_error(e)),
    }
}

/// What a failed write to stdout means: a closed pipe ends the process
/// quietly (the files a command has written are complete: every file is
/// written atomically); anything else is an [`OutputError`].
pub fn stdout_error(e: io::Error) -> OutputError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(EXIT_BROKEN_PIPE);
    }
    OutputError(e)
}

/// Writes `args` to stderr, ignoring errors (there is nowhere to report them).
pub fn write_stderr(args: fmt::Arguments) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// `println!` that returns `Result<(), OutputError>` instead of panicking.
macro_rules! outln {
    () => {
        $crate::cli::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that returns `Result<(), OutputError>` instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics (write errors on stderr are ignored).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, out, outln};

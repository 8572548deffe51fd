//! Ctrl-C (SIGINT) and SIGTERM during a sweep: the rows written so far are
//! saved (each row is appended and flushed as its run ends), so the sweep
//! ends with `interrupted: N runs saved; rerun the same command to resume`
//! and the exit status of the signal (130, 143). Runs in flight are lost,
//! as after a kill; the next sweep drops what they left half-written.
//!
//! The handler only writes the signal's number to a pipe; a thread reads it
//! and does the printing and exiting outside of signal context.

use std::io::{IsTerminal, Write as _};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

/// Rows of the running sweep's directory.
static SAVED: AtomicUsize = AtomicUsize::new(0);
/// True while a sweep runs.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The pipe's write end, for the handler.
static PIPE: AtomicI32 = AtomicI32::new(-1);
static INSTALL: Once = Once::new();

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = PIPE.load(Ordering::Relaxed);
    let byte = signal as u8;
    // SAFETY: write(2) is async-signal-safe; `byte` outlives the call.
    unsafe {
        libc::write(fd, (&raw const byte).cast(), 1);
    }
}

fn install() {
    INSTALL.call_once(|| {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return; // No message then; the signals keep their default.
        }
        PIPE.store(fds[1], Ordering::Relaxed);
        let read_end = fds[0];
        std::thread::spawn(move || {
            let mut byte = 0u8;
            loop {
                // SAFETY: reads one byte into `byte`, which outlives the call.
                let n = unsafe { libc::read(read_end, (&raw mut byte).cast(), 1) };
                if n == 1 {
                    break;
                }
                if n < 0
                    && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
                {
                    continue;
                }
                return;
            }
            if ACTIVE.load(Ordering::SeqCst) {
                // After the ^C the terminal echoed, or the progress bar.
                let newline = if std::io::stderr().is_terminal() {
                    "\n"
                } else {
                    ""
                };
                let _ = writeln!(
                    std::io::stderr(),
                    "{newline}interrupted: {} runs saved; rerun the same command to resume",
                    SAVED.load(Ordering::SeqCst)
                );
            }
            std::process::exit(128 + i32::from(byte));
        });
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: `on_signal` only calls write(2), which is
            // async-signal-safe.
            unsafe {
                libc::signal(signal, on_signal as *const () as libc::sighandler_t);
            }
        }
    });
}

/// While alive, Ctrl-C or SIGTERM ends the process with the interrupt
/// message; [`Running::saved`] keeps its count of saved runs.
pub struct Running(());

impl Running {
    /// Starts watching for an interrupt; `saved` runs are in the directory.
    pub fn start(saved: usize) -> Running {
        install();
        SAVED.store(saved, Ordering::SeqCst);
        ACTIVE.store(true, Ordering::SeqCst);
        Running(())
    }

    /// One more run saved.
    pub fn saved(&self) {
        SAVED.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        ACTIVE.store(false, Ordering::SeqCst);
    }
}

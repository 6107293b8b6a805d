//! Standard output for the subcommands' results.
//!
//! `println!` panics when a write fails, and writes fail in ordinary use: `taboo forms кошка |
//! head -1` closes the pipe early, `> /dev/full` fills the disk. Subcommands write through
//! [`Stdout`] instead. Its errors keep the I/O error's kind, so that `main` still tells a
//! closed pipe (the reader had enough: exit 0, say nothing) from a failed write (exit 1 with
//! the reason), and their message says that writing the output failed, not merely "No space
//! left on device".

use std::io::{self, BufWriter, IsTerminal, StdoutLock, Write};

/// Buffered, locked standard output whose errors say what failed. Call [`Stdout::finish`]
/// at the end: dropping it flushes too, but cannot report a failure.
pub struct Stdout(BufWriter<StdoutLock<'static>>);

impl Stdout {
    /// Locks standard output for the rest of the subcommand.
    pub fn lock() -> Stdout {
        Stdout(BufWriter::new(io::stdout().lock()))
    }

    /// Whether standard output is a terminal (colours, progress).
    pub fn is_terminal(&self) -> bool {
        self.0.get_ref().is_terminal()
    }

    /// Flushes what is buffered, reporting a failed write.
    pub fn finish(mut self) -> io::Result<()> {
        self.flush()
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(output_error)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf).map_err(output_error)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(output_error)
    }
}

/// The same error, kind kept, with a message that names what failed.
pub fn output_error(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot write output: {e}"))
}

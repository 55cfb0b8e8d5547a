//! Progress on long work (import, export, reindex, verify): a bar on a terminal, a plain line
//! every couple of seconds otherwise, nothing with `--quiet` or `--json`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Reports `done / total` for one task.
pub struct Progress {
    label: &'static str,
    bar: Option<ProgressBar>,
    plain: bool,
    last: Instant,
}

impl Progress {
    /// Progress for `label`, on stderr.
    pub fn new(label: &'static str, quiet: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = (tty && !quiet).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{msg:<10} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_message(label);
            bar
        });
        Self { label, bar, plain: !tty && !quiet, last: Instant::now() }
    }

    /// Updates the count.
    pub fn set(&mut self, done: u64, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
        } else if self.plain && (self.last.elapsed() >= Duration::from_secs(2) || (done == total && total > 0)) {
            self.last = Instant::now();
            eprintln!("{}: {done}/{total}", self.label);
        }
    }

    /// Clears the bar.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

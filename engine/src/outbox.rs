//! Where a bank "sends" the confirmation codes of e-mail and phone keys in the demo: a file in
//! its data directory (and a log line), standing in for a mail or SMS gateway. The check of the
//! code is real (see [`crate::key_codes`]); only the delivery is simulated.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

pub struct Outbox {
    path: PathBuf,
    lock: Mutex<()>,
}

impl Outbox {
    /// Messages go to `path` (created on first use, readable by its owner only).
    pub fn new(path: PathBuf) -> Outbox {
        Outbox {
            path,
            lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Appends one line: when, to whom, what.
    pub fn send(&self, to: &str, text: &str, now_ms: i64) -> std::io::Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path)?;
        writeln!(file, "{now_ms}\t{to}\t{text}")?;
        file.sync_data()
    }
}

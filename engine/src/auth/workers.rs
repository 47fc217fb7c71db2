//! The threads password work runs on: at most [`PasswordWorkers::SHARED_THREADS`] Argon2id hashes
//! at once per bank. Each holds 19 MiB while it runs, so this bounds their memory however many
//! sign-ups and logins arrive together (200 wrong logins at once took a bank to 1.5 GiB and 92
//! threads without it); more would only queue for the same cores.
//!
//! As many threads as turns, always the same ones: the allocator keeps a freed hash's memory in
//! the thread that used it for a while, so a pool that grew threads on demand (tokio's blocking
//! pool) held several hashes' worth more than ran at once.

use crate::{EngineError, EngineResult};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

pub struct PasswordWorkers {
    turns: Arc<tokio::sync::Semaphore>,
    jobs: std::sync::mpsc::Sender<Job>,
    /// How long a job waits for its turn before the caller hears that the bank is busy.
    wait: Duration,
}

impl PasswordWorkers {
    /// Hashes running at once, at most, in the process-wide pool.
    pub const SHARED_THREADS: usize = 2;
    /// How long a sign-up or login waits for its turn in the process-wide pool.
    pub const SHARED_WAIT: Duration = Duration::from_secs(5);

    /// The process-wide pool, started on first use.
    pub fn shared() -> &'static PasswordWorkers {
        static SHARED: OnceLock<PasswordWorkers> = OnceLock::new();
        SHARED.get_or_init(|| PasswordWorkers::start(Self::SHARED_THREADS, Self::SHARED_WAIT))
    }

    pub fn start(threads: usize, wait: Duration) -> PasswordWorkers {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = queue.clone();
            let work = move || loop {
                // The lock is released before the job runs: the other threads keep taking jobs.
                let job = match queue.lock() {
                    Ok(queue) => queue.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            };
            std::thread::Builder::new()
                .name(format!("password-{n}"))
                .spawn(work)
                .expect("starting a password thread");
        }
        PasswordWorkers {
            turns: Arc::new(tokio::sync::Semaphore::new(threads)),
            jobs,
            wait,
        }
    }

    /// Waits up to the pool's wait for a turn ([`EngineError::Busy`] after it), then runs `f`
    /// on a worker thread. A job is queued only with a turn, which it gives back only once it
    /// has run (even if its caller has gone): at most as many jobs wait as there are threads.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> EngineResult<T> {
        let turn = tokio::time::timeout(self.wait, self.turns.clone().acquire_owned())
            .await
            .map_err(|_| EngineError::Busy)?
            .map_err(|_| EngineError::Busy)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The turn is back before the caller hears anything; if `f` panicked, the caller
            // hears "unexpected" and the thread lives on.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            drop(turn);
            if let Ok(value) = result {
                let _ = reply.send(value);
            }
        });
        self.jobs.send(job).map_err(|_| EngineError::Unexpected)?;
        answer.await.map_err(|_| EngineError::Unexpected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn password_work_waits_for_a_turn_and_a_full_house_is_busy_not_unbounded() {
        let workers = PasswordWorkers::start(1, Duration::ZERO);
        let name = || std::thread::current().name().map(str::to_string);
        assert_eq!(
            workers.run(name).await.unwrap().as_deref(),
            Some("password-0"),
            "a free turn runs at once"
        );
        let held = workers.turns.acquire().await.unwrap();
        assert_eq!(workers.run(|| 7).await, Err(EngineError::Busy));
        drop(held);
        let panicked = workers.run(|| -> u8 { panic!("a job that panics") }).await;
        assert_eq!(panicked, Err(EngineError::Unexpected));
        assert_eq!(
            workers.run(|| 8).await,
            Ok(8),
            "the turn is back and the thread survived"
        );
    }
}

//! The engine's threads: a fixed set fed by one queue, so that rendering
//! (CPU work) never runs on the runtime's threads, where the deadline
//! could not interrupt it.
//!
//! Why not tokio's blocking pool: it starts a thread whenever none is idle
//! at the moment a task is queued, up to 512, and keeps each for 10 s. Under
//! steady admission load on a CPU-limited pod, the threads that just
//! finished have not yet woken up when the next task comes, so the pool
//! grew to 513 threads in the load bench, each with its own allocator heap:
//! 1.2 GiB of RSS and a p99 of 186 ms for pods never seen before. A fixed
//! set, one thread per CPU the process may use, bounds both; the admission
//! limits (`--max-concurrent-requests`) bound the queue.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Why work sent to the engine threads gave no result.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// The work panicked; the message is the panic's.
    #[error("{0}")]
    Panicked(String),
    /// The threads are gone (they only stop when the pool is dropped).
    #[error("the engine threads have stopped")]
    Stopped,
}

/// A fixed set of threads running one job at a time each.
#[derive(Debug)]
pub struct Workers {
    jobs: mpsc::Sender<Job>,
}

impl Workers {
    /// Starts `threads` threads (at least one). They stop when the pool is
    /// dropped and the queue has drained.
    pub fn start(threads: usize) -> std::io::Result<Workers> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            thread::Builder::new()
                .name(format!("engine-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held while waiting, so one thread
                        // waits on the queue and the others on the lock.
                        let next = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match next {
                            Ok(job) => job(),
                            Err(mpsc::RecvError) => return,
                        }
                    }
                })?;
        }
        Ok(Workers { jobs })
    }

    /// Runs `work` on one of the threads and waits for its result. Work
    /// whose caller stopped waiting (its deadline passed) before a thread
    /// took it up is skipped: nobody would read the answer.
    pub async fn run<T, F>(&self, work: F) -> Result<T, WorkError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (answer, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            if answer.is_closed() {
                return;
            }
            let outcome = panic::catch_unwind(AssertUnwindSafe(work))
                .map_err(|panic| WorkError::Panicked(panic_message(panic.as_ref()).to_string()));
            // The caller may have given up meanwhile; nothing to do then.
            let _ = answer.send(outcome);
        });
        self.jobs.send(job).map_err(|_| WorkError::Stopped)?;
        result.await.map_err(|_| WorkError::Stopped)?
    }
}

/// The message a panic was raised with, when it has one.
pub fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn runs_work_on_its_own_threads_and_reports_panics() {
        let workers = Workers::start(2).unwrap();
        let name = workers
            .run(|| thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("engine-")));
        match workers.run(|| -> u8 { panic!("boom") }).await {
            Err(WorkError::Panicked(message)) => assert_eq!(message, "boom"),
            other => panic!("{other:?}"),
        }
        // A panic does not take a thread away.
        for _ in 0..4 {
            assert_eq!(workers.run(|| 7).await.unwrap(), 7);
        }
    }

    #[tokio::test]
    async fn never_more_threads_than_asked_however_many_wait() {
        let workers = Arc::new(Workers::start(2).unwrap());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (workers, running, most) = (workers.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    workers
                        .run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            thread::sleep(Duration::from_millis(1));
                            running.fetch_sub(1, Ordering::SeqCst);
                            thread::current().name().map(str::to_string)
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut names = std::collections::BTreeSet::new();
        for task in tasks {
            names.insert(task.await.unwrap());
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[tokio::test]
    async fn work_nobody_waits_for_is_skipped() {
        let workers = Arc::new(Workers::start(1).unwrap());
        let (started, on_start) = std::sync::mpsc::channel::<()>();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        // The only thread is busy until released.
        let pool = workers.clone();
        let busy = tokio::spawn(async move {
            pool.run(move || started.send(()).is_ok() && hold.recv().is_ok())
                .await
        });
        while on_start.try_recv().is_err() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let ran = Arc::new(AtomicUsize::new(0));
        let counted = ran.clone();
        let abandoned = workers.run(move || counted.fetch_add(1, Ordering::SeqCst));
        // Given up before a thread took it.
        assert!(
            tokio::time::timeout(Duration::from_millis(20), abandoned)
                .await
                .is_err()
        );
        release.send(()).unwrap();
        assert!(busy.await.unwrap().unwrap());
        assert_eq!(workers.run(|| 1).await.unwrap(), 1);
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }
}

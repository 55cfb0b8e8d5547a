//! The daemon's supervisor: every task and thread of the daemon starts through it, and any
//! that fails (a panic, or a worker that ends before shutdown) is reported on one channel, so
//! that `rix daemon` exits non-zero instead of running on degraded (`docs/operations.md` §4).
//! It also owns shutdown: one cancellation token every worker watches, and one task tracker
//! (tokio-util's `JoinSet` for tasks spawned from many places) that `stop` waits on, so no
//! task outlives the node.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A worker of the daemon that ended while the node was running: it panicked, or returned
/// though it should run until shutdown. The daemon then exits non-zero, so that its supervisor
/// (systemd, a container runtime) restarts it, instead of staying up degraded (a dead gossip
/// worker would leave records arriving only by sync while the node looked healthy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerFailure {
    /// Which worker.
    pub worker: &'static str,
    /// What happened to it.
    pub reason: String,
}

/// The environment variable that makes one named worker panic half a second after start, to
/// test that the daemon notices (a failpoint, as FoundationDB and TiKV have): for example
/// `RIX_FAILPOINT="protocol engine"`. `stuck flush` (as in `"protocol engine,stuck flush"`)
/// also makes the replica's flush after a failure hang, as a write to a failing disk can.
/// Unset in production; documented in `docs/operations.md`.
pub const FAILPOINT_ENV: &str = "RIX_FAILPOINT";

/// Starts workers and tasks whose panics (and, for workers, any end) are reported on one
/// channel.
#[derive(Debug, Clone)]
pub(crate) struct Supervisor {
    failed: tokio::sync::mpsc::UnboundedSender<WorkerFailure>,
    failpoint: Option<String>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Supervisor {
    pub(crate) fn new() -> (Self, tokio::sync::mpsc::UnboundedReceiver<WorkerFailure>) {
        let (failed, failures) = tokio::sync::mpsc::unbounded_channel();
        let supervisor = Self {
            failed,
            failpoint: std::env::var(FAILPOINT_ENV).ok(),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
        };
        (supervisor, failures)
    }

    /// Cancelled when the node stops: every worker ends when it is.
    pub(crate) fn stopping(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Tells every worker to stop, then waits up to `patience` for every task to end; returns
    /// how many had not.
    pub(crate) async fn stop(&self, patience: Duration) -> usize {
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(patience, self.tasks.wait()).await.is_err() {
            return self.tasks.len();
        }
        0
    }

    /// Reports that `worker` failed for `reason`: the daemon stops and exits non-zero.
    pub(crate) fn fail(&self, worker: &'static str, reason: String) {
        let _ = self.failed.send(WorkerFailure { worker, reason });
    }

    /// Whether the failpoint names `worker` (it may name several, separated by commas).
    pub(crate) fn fails(&self, worker: &str) -> bool {
        self.failpoint.as_deref().is_some_and(|names| names.split(',').any(|name| name.trim() == worker))
    }

    /// Spawns a worker that must run until shutdown: its end before [`Supervisor::stop`], or
    /// its panic, is a failure.
    pub(crate) fn worker(&self, worker: &'static str, work: impl Future<Output = ()> + Send + 'static) {
        self.spawn(worker, true, work);
    }

    /// Spawns a task that may end; its panic is a failure.
    pub(crate) fn task(&self, worker: &'static str, work: impl Future<Output = ()> + Send + 'static) {
        self.spawn(worker, false, work);
    }

    fn spawn(&self, worker: &'static str, must_run: bool, work: impl Future<Output = ()> + Send + 'static) {
        let failed = self.failed.clone();
        let fail = self.fails(worker);
        let stop = self.stop.clone();
        let inner = self.tasks.spawn(async move {
            if fail {
                tokio::time::sleep(Duration::from_millis(500)).await;
                panic!("failpoint {FAILPOINT_ENV}={worker:?}");
            }
            work.await
        });
        self.tasks.spawn(async move {
            let reason = match inner.await {
                Ok(()) if must_run && !stop.is_cancelled() => "it ended unexpectedly".to_string(),
                Ok(()) => return,
                Err(e) if e.is_panic() => format!("it panicked: {}", panic_message(e.into_panic())),
                Err(_) => return, // cancelled: the runtime is shutting down
            };
            let _ = failed.send(WorkerFailure { worker, reason });
        });
    }

    /// Reports, when dropped on a thread that is panicking or that was not told to stop, that
    /// the thread's worker failed: threads are not tokio tasks, so they report this way.
    pub(crate) fn thread_guard(&self, worker: &'static str) -> ThreadGuard {
        ThreadGuard { worker, failed: self.failed.clone(), stopping: false }
    }
}

/// See [`Supervisor::thread_guard`].
pub(crate) struct ThreadGuard {
    worker: &'static str,
    failed: tokio::sync::mpsc::UnboundedSender<WorkerFailure>,
    pub(crate) stopping: bool,
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        let reason = if std::thread::panicking() {
            "it panicked (its message is in the log above)"
        } else if self.stopping {
            return;
        } else {
            "it ended unexpectedly"
        };
        let _ = self.failed.send(WorkerFailure { worker: self.worker, reason: reason.into() });
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => {
            payload.downcast::<&'static str>().map_or_else(|_| "(no message)".to_string(), |s| (*s).to_string())
        }
    }
}

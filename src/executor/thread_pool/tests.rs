//! Unit tests of the thread pool.

use super::*;
use std::sync::mpsc;

const DEADLINE: Duration = Duration::from_secs(5);

fn workers(pool: &ThreadPool) -> usize {
    pool.pool.core.lock().threads.len()
}

#[test]
fn e1_runs_on_worker_thread_and_returns_result() {
    let pool = ThreadPool::new(2).unwrap();
    let caller = thread::current().id();
    let future = pool
        .submit(|| {
            let me = thread::current();
            (me.id(), me.name().map(str::to_owned), 40 + 2)
        })
        .unwrap();
    let (id, name, value) = future.wait_timeout(DEADLINE).unwrap().unwrap();
    assert_ne!(id, caller);
    assert_eq!(name.as_deref(), Some("switchboard-pool-0"));
    assert_eq!(value, 42);
}

#[test]
fn e2_dropping_future_does_not_stop_job() {
    let pool = ThreadPool::new(1).unwrap();
    let (open, gate) = mpsc::channel::<()>();
    let (ran, done) = mpsc::channel();
    let future = pool
        .submit(move || {
            gate.recv_timeout(DEADLINE).unwrap();
            ran.send("finished").unwrap();
            vec![1u8; 16]
        })
        .unwrap();
    // Cancel while the job is blocked, then let it go on.
    drop(future);
    open.send(()).unwrap();
    assert_eq!(done.recv_timeout(DEADLINE).unwrap(), "finished");
    // The worker survived discarding the result and serves the next job.
    let next = pool.submit(|| 5).unwrap();
    assert_eq!(next.wait_timeout(DEADLINE).unwrap().unwrap(), 5);
}

#[test]
fn panic_becomes_error_and_worker_survives() {
    let pool = ThreadPool::new(1).unwrap();
    let failed = pool.submit(|| -> u8 { panic!("job exploded") }).unwrap();
    match failed.wait_timeout(DEADLINE) {
        Some(Err(ExecutorError::Panicked { message })) => assert_eq!(message, "job exploded"),
        other => panic!("unexpected {other:?}"),
    }
    let name = pool
        .submit(|| thread::current().name().map(str::to_owned))
        .unwrap()
        .wait_timeout(DEADLINE)
        .unwrap()
        .unwrap();
    assert_eq!(name.as_deref(), Some("switchboard-pool-0"));
    assert_eq!(workers(&pool), 1);
}

#[test]
fn e3_shutdown_wait_runs_queued_jobs() {
    let pool = ThreadPool::new(1).unwrap();
    let (open, gate) = mpsc::channel::<()>();
    let blocker = pool
        .submit(move || gate.recv_timeout(DEADLINE).unwrap())
        .unwrap();
    let queued: Vec<_> = (0..5)
        .map(|i| pool.submit(move || i * 10).unwrap())
        .collect();
    // Stop accepting while the jobs are still queued behind the blocker.
    pool.shutdown(false);
    open.send(()).unwrap();
    pool.shutdown(true);
    assert!(blocker.is_done());
    for (i, future) in queued.into_iter().enumerate() {
        assert!(future.is_done());
        assert_eq!(future.wait_timeout(DEADLINE).unwrap().unwrap(), i * 10);
    }
}

#[test]
fn submit_after_shutdown_errors() {
    let pool = ThreadPool::new(2).unwrap();
    let other = pool.clone();
    pool.shutdown(false);
    assert!(matches!(other.submit(|| ()), Err(ExecutorError::Shutdown)));
    assert!(other.join_timeout(DEADLINE));
}

#[test]
fn e3_join_timeout_false_when_a_job_blocks() {
    let pool = ThreadPool::new(2).unwrap();
    let (open, gate) = mpsc::channel::<()>();
    let blocked = pool
        .submit(move || gate.recv_timeout(DEADLINE).unwrap())
        .unwrap();
    pool.shutdown(false);
    assert!(!pool.join_timeout(Duration::from_millis(20)));
    open.send(()).unwrap();
    assert!(pool.join_timeout(DEADLINE));
    assert!(blocked.is_done());
}

#[test]
fn zero_workers_is_invalid() {
    assert!(matches!(
        ThreadPool::new(0),
        Err(ExecutorError::InvalidSize { max_workers: 0 })
    ));
}

#[test]
fn workers_start_lazily_and_idle_ones_are_reused() {
    let pool = ThreadPool::new(4).unwrap();
    assert_eq!(workers(&pool), 0);
    for i in 0..3 {
        let future = pool.submit(move || i).unwrap();
        assert_eq!(future.wait_timeout(DEADLINE).unwrap().unwrap(), i);
        // Wait until the worker counts itself idle again, so the next
        // submit sees it free.
        let core = &pool.pool.core;
        let deadline = std::time::Instant::now() + DEADLINE;
        while core.lock().idle == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "worker never went idle"
            );
            thread::yield_now();
        }
    }
    assert_eq!(workers(&pool), 1);
}

#[test]
fn workers_never_exceed_max() {
    let pool = ThreadPool::new(2).unwrap();
    let (open, gate) = mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    let futures: Vec<_> = (0..5)
        .map(|_| {
            let gate = Arc::clone(&gate);
            pool.submit(move || gate.lock().unwrap().recv_timeout(DEADLINE).unwrap())
                .unwrap()
        })
        .collect();
    assert_eq!(workers(&pool), 2);
    for _ in 0..5 {
        open.send(()).unwrap();
    }
    pool.shutdown(true);
    assert!(futures.iter().all(ExecutorFuture::is_done));
}

#[test]
fn dropping_last_handle_lets_workers_finish_and_exit() {
    let pool = ThreadPool::new(1).unwrap();
    let core = Arc::clone(&pool.pool.core);
    let future = pool.submit(|| "kept").unwrap();
    drop(pool);
    assert_eq!(future.wait_timeout(DEADLINE).unwrap().unwrap(), "kept");
    assert!(core.join(Some(DEADLINE)));
}

#[test]
fn shutdown_wait_from_own_worker_does_not_deadlock() {
    let pool = ThreadPool::new(1).unwrap();
    let inner = pool.clone();
    let future = pool.submit(move || inner.shutdown(true)).unwrap();
    future.wait_timeout(DEADLINE).unwrap().unwrap();
    assert!(pool.join_timeout(DEADLINE));
}

#[test]
fn pool_is_send_sync_clone_debug() {
    fn check<T: Send + Sync + Clone + fmt::Debug>() {}
    check::<ThreadPool>();
}

//! `create_task`, `create_future` and the task factory.

use std::future::IntoFuture;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::error::LoopError;
use crate::event_loop::{EventLoop, Ready, TaskFactory};
use crate::future::LoopFuture;
use crate::task::{Task, TaskCell, TaskControl, TaskKey, TaskSlot, TaskSpec, TaskWaker};

impl EventLoop {
    /// Schedules `future` (anything that implements `IntoFuture`) as a task on
    /// this loop and returns its handle. The first step runs on the next
    /// iteration. The task is named `Task-N` unless the task factory renames
    /// it.
    pub fn create_task<F>(&self, future: F) -> Result<Task<F::Output>, LoopError>
    where
        F: IntoFuture + 'static,
        F::IntoFuture: 'static,
        F::Output: 'static,
    {
        let future = future.into_future();
        let core = &self.core;
        core.check_open()?;
        let gen = core.task_gen.get() + 1;
        core.task_gen.set(gen);
        let cell = TaskCell::<F::Output>::new(format!("Task-{gen}"));
        let completer = cell.clone();
        let spec = TaskSpec {
            name: cell.name(),
            future: Box::pin(async move {
                let out = future.await;
                completer.complete(Ok(out));
            }),
        };
        let factory = core.task_factory.borrow().clone();
        let spec = match factory {
            Some(factory) => factory(self, spec),
            None => spec,
        };
        let task = {
            let mut tasks = core.tasks.borrow_mut();
            let entry = tasks.vacant_entry();
            let key = TaskKey {
                index: entry.key(),
                gen,
            };
            let waker = Arc::new(TaskWaker {
                key,
                scheduled: AtomicBool::new(true),
                shared: core.shared.clone(),
            });
            entry.insert(TaskSlot {
                future: Some(spec.future),
                waker: waker.clone(),
                control: cell.clone(),
            });
            core.ready.borrow_mut().push_back(Ready::Task(key));
            Task {
                cell,
                waker: std::task::Waker::from(waker),
                owner: core.me.clone(),
            }
        };
        task.set_name(spec.name);
        Ok(task)
    }

    /// A new pending [`LoopFuture`] bound to this loop.
    pub fn create_future<T: 'static>(&self) -> LoopFuture<T> {
        LoopFuture::new(self.core.me.clone())
    }

    /// A new pending [`LoopFuture`] that may also fail with an `E`.
    pub fn create_fallible_future<T: 'static, E: 'static>(&self) -> LoopFuture<T, E> {
        LoopFuture::new(self.core.me.clone())
    }

    /// Sets the factory [`create_task`](Self::create_task) passes every new task
    /// through; `None` restores plain tasks.
    ///
    /// ```
    /// use std::rc::Rc;
    /// let lp = switchboard::new_event_loop()?;
    /// lp.set_task_factory(Some(Rc::new(|_lp, mut spec: switchboard::TaskSpec| {
    ///     spec.name = format!("traced-{}", spec.name);
    ///     spec
    /// })));
    /// let t = lp.create_task(async {})?;
    /// assert!(t.get_name().starts_with("traced-Task-"));
    /// # Ok::<(), switchboard::LoopError>(())
    /// ```
    pub fn set_task_factory(&self, factory: Option<TaskFactory>) {
        *self.core.task_factory.borrow_mut() = factory;
    }

    /// The current task factory.
    pub fn get_task_factory(&self) -> Option<TaskFactory> {
        self.core.task_factory.borrow().clone()
    }
}

//! The loop's exception handler (asyncio's `call_exception_handler` family).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use switchboard_protocols::{Exception, ExceptionContext};

use crate::event_loop::{EventLoop, LoopCore};

/// A custom exception handler: called on the loop thread with the loop and the
/// context.
pub type ExceptionHandler = Rc<dyn Fn(&EventLoop, &ExceptionContext)>;

/// Logs `context` at ERROR through the `log` facade. When no logger is installed
/// the message goes to stderr instead, as Python's logging "last resort" does, so
/// errors are never silently lost.
pub fn default_exception_handler(context: &ExceptionContext) {
    let text = render(context);
    if log::max_level() >= log::LevelFilter::Error {
        crate::diag::error!("{text}");
    } else {
        eprintln!("switchboard: {text}");
    }
}

/// The context as the default handler logs it: every key, including the
/// original `context` of a failed handler (Z2), indented under it.
fn render(context: &ExceptionContext) -> String {
    let mut text = context.to_string();
    if let Some(inner) = &context.context {
        text.push_str("\ncontext: ");
        text.push_str(&render(inner).replace('\n', "\n    "));
    }
    text
}

pub(crate) fn report(core: &LoopCore, context: ExceptionContext) {
    core.stats.exception();
    let handler = core.handler.borrow().clone();
    let Some(handler) = handler else {
        if catch_unwind(AssertUnwindSafe(|| default_exception_handler(&context))).is_err() {
            crate::diag::error!("Exception in default exception handler");
        }
        return;
    };
    let Some(core_rc) = core.me.upgrade() else {
        default_exception_handler(&context);
        return;
    };
    let lp = EventLoop { core: core_rc };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| handler(&lp, &context))) {
        let mut outer = ExceptionContext::new("Unhandled error in exception handler")
            .with_exception(Exception::from_panic(&*payload));
        outer.context = Some(Box::new(context));
        if catch_unwind(AssertUnwindSafe(|| default_exception_handler(&outer))).is_err() {
            crate::diag::error!("Exception in default exception handler");
        }
    }
}

impl EventLoop {
    /// Sets the handler the loop calls for errors no one else handles (panics in
    /// callbacks, tasks and actors, fatal transport errors). `None` restores the
    /// default, [`default_exception_handler`]. A handler that panics is reported
    /// as "Unhandled error in exception handler" and the loop goes on.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// let lp = switchboard::new_event_loop()?;
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// let log = seen.clone();
    /// lp.set_exception_handler(Some(Rc::new(move |_lp, ctx| log.borrow_mut().push(ctx.message.clone()))));
    /// lp.call_soon(|| panic!("boom"))?;
    /// lp.call_soon({ let lp = lp.clone(); move || lp.stop() })?;
    /// lp.run_forever()?;
    /// assert!(seen.borrow()[0].starts_with("Exception in callback"));
    /// # Ok::<(), switchboard::LoopError>(())
    /// ```
    pub fn set_exception_handler(&self, handler: Option<ExceptionHandler>) {
        *self.core.handler.borrow_mut() = handler;
    }

    /// The custom handler, if one is set.
    pub fn get_exception_handler(&self) -> Option<ExceptionHandler> {
        self.core.handler.borrow().clone()
    }

    /// Calls the current exception handler with `context`.
    pub fn call_exception_handler(&self, context: ExceptionContext) {
        report(&self.core, context);
    }

    /// The default handler, for custom handlers that want to chain to it.
    pub fn default_exception_handler(&self, context: &ExceptionContext) {
        default_exception_handler(context);
    }
}

//! [`Shared`]: how every binding holds its model so that many Python
//! threads can use it at once.

use std::sync::{Arc, RwLock};

use crate::engine::batch;

/// A model shared by Python threads, changed copy-on-write.
///
/// Readers take a [`snapshot`](Shared::snapshot) (an `Arc`) and keep it for
/// the whole call, with the GIL released; a concurrent
/// [`update`](Shared::update) then changes a copy, so a reader sees the
/// model before or after a whole update, never a torn one.
///
/// Deadlock freedom rests on two rules: the lock is never held with the GIL
/// released (updates run with the GIL held, so no other Python thread can
/// be waiting for the lock while the update needs the GIL), and readers hold
/// it only to clone the `Arc`.
pub struct Shared<T> {
    current: RwLock<Arc<T>>,
}

impl<T: Clone + Send + Sync> Shared<T> {
    /// Shares `value`.
    pub fn new(value: T) -> Self {
        Shared {
            current: RwLock::new(Arc::new(value)),
        }
    }

    /// The model as it is now; later updates do not change it.
    pub fn snapshot(&self) -> Arc<T> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes the model with `f`, on this process's thread pool (call with
    /// the GIL held). The model is copied first only if a reader holds a
    /// snapshot. `f` must check its input before it changes anything: an
    /// error leaves the model as it was.
    pub fn update<R: Send>(
        &self,
        f: impl FnOnce(&mut T) -> crate::Result<R> + Send,
    ) -> crate::Result<R> {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        let model = Arc::make_mut(&mut guard);
        batch::with_threads(None, || f(model))?
    }

    /// Replaces the model with `value`.
    pub fn replace(&self, value: T) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
    }
}

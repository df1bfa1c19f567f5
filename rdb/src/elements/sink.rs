//! Where decoded elements go: gathered into batches of at most `max` elements, each handed to
//! the caller's function as soon as it is full.

use super::Batch;

/// Collects elements of one kind (`T`) and hands them on in batches.
pub(crate) struct Sink<'f, T, E> {
    max: usize,
    items: Vec<T>,
    wrap: fn(Vec<T>) -> Batch,
    out: &'f mut dyn FnMut(Batch) -> Result<(), E>,
}

impl<'f, T, E> Sink<'f, T, E> {
    pub fn new(
        max: usize,
        wrap: fn(Vec<T>) -> Batch,
        out: &'f mut dyn FnMut(Batch) -> Result<(), E>,
    ) -> Self {
        Sink {
            max: max.max(1),
            items: Vec::new(),
            wrap,
            out,
        }
    }

    /// Makes room for `n` more elements (never more than one batch).
    pub fn reserve(&mut self, n: usize) {
        let room = self.max - self.items.len();
        self.items.reserve(n.min(room));
    }

    pub fn push(&mut self, item: T) -> Result<(), E> {
        self.items.push(item);
        if self.items.len() >= self.max {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), E> {
        if self.items.is_empty() {
            return Ok(());
        }
        let items = std::mem::take(&mut self.items);
        (self.out)((self.wrap)(items))
    }

    /// Hands on the last partial batch, then `last` (a stream's metadata) if any.
    pub fn finish(mut self, last: Option<Batch>) -> Result<(), E> {
        self.flush()?;
        match last {
            Some(batch) => (self.out)(batch),
            None => Ok(()),
        }
    }
}

//! Work split over a few threads of one call, with results that do not depend on how many.
//!
//! The encoders split work whose every result is computed alone (a product's output columns, a
//! run of texts), so any number of threads gives the same bits as one. Threads are scoped to
//! the call: no pool outlives it, and nothing runs in the background between calls.
//!
//! The threaded wasm module (built with atomics) cannot start threads itself: there the items
//! run on rayon's pool of Web Workers, which the JavaScript side starts once
//! (`initThreadPool`, from wasm-bindgen-rayon) with as many workers as the encoder's threads.

use std::num::NonZeroUsize;

/// `work` applied to every item, on up to `threads` threads (the calling one included),
/// results in the order of `items`. Each thread takes the next item not yet taken, so items of
/// uneven cost are shared out evenly. Where a thread cannot be started (wasm32 without
/// threads, a process out of threads) the calling thread does its share: the results are the
/// same, only slower.
pub(crate) fn map_in_threads<T: Send, R: Send>(
    items: Vec<T>,
    threads: NonZeroUsize,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let helpers = threads.get().min(items.len()).saturating_sub(1);
    if helpers == 0 {
        return items.into_iter().map(work).collect();
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
    {
        map_on_worker_pool(items, work)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "atomics")))]
    {
        map_on_scoped_threads(items, helpers, work)
    }
}

/// The threaded wasm module's `map_in_threads`: the calling worker waits (`Atomics.wait`) while
/// rayon's pool runs the items, one whole item per task, and collects the results in item
/// order, so the bits are those of one thread. The pool must have been started (by
/// `initThreadPool`): rayon's default pool would try to spawn threads, which wasm cannot.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
fn map_on_worker_pool<T: Send, R: Send>(items: Vec<T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    use rayon::iter::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
    items.into_par_iter().with_max_len(1).map(&work).collect()
}

/// `map_in_threads` on `helpers` scoped threads besides the calling one.
#[cfg(not(all(target_arch = "wasm32", target_feature = "atomics")))]
fn map_on_scoped_threads<T: Send, R: Send>(
    items: Vec<T>,
    helpers: usize,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    let count = items.len();
    let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|i| Mutex::new(Some(i))).collect();
    let next = AtomicUsize::new(0);
    let take_items = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = slots.get(index) else {
                return done;
            };
            // Each index is taken once, so the slot is full and its lock free; a thread that
            // panicked while holding another slot's lock does not concern this one.
            let item = slot
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            if let Some(item) = item {
                done.push((index, work(item)));
            }
        }
    };
    let mut results: Vec<Option<R>> = (0..count).map(|_| None).collect();
    std::thread::scope(|scope| {
        let started: Vec<_> = (0..helpers)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, take_items)
                    .ok()
            })
            .collect();
        let mut finished = vec![take_items()];
        for helper in started {
            // A panic in `work` on a helper thread is the same panic on the calling one.
            finished.push(
                helper
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        for (index, result) in finished.into_iter().flatten() {
            results[index] = Some(result);
        }
    });
    results
        .into_iter()
        .map(|result| result.expect("every item is taken by one thread"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap()
    }

    #[test]
    fn results_come_back_in_the_order_of_the_items() {
        for n in [1, 2, 3, 8] {
            let items: Vec<u64> = (0..50).collect();
            let squares = map_in_threads(items, threads(n), |i| i * i);
            assert_eq!(
                squares,
                (0..50u64).map(|i| i * i).collect::<Vec<_>>(),
                "{n}"
            );
        }
    }

    #[test]
    fn items_that_borrow_mutably_are_each_written_once() {
        let mut out = vec![0u32; 10];
        let parts: Vec<&mut [u32]> = out.chunks_mut(3).collect();
        map_in_threads(parts, threads(4), |part| {
            part.iter_mut().for_each(|v| *v += 1)
        });
        assert_eq!(out, vec![1; 10]);
    }

    #[test]
    fn no_items_no_work() {
        assert!(map_in_threads(Vec::<u8>::new(), threads(4), |_| 1).is_empty());
    }
}

//! Work split over a few threads of one call, with results that do not depend on how many.
//!
//! The encoders split work whose every result is computed alone (a product's output columns, a
//! run of texts), so any number of threads gives the same bits as one. Threads are scoped to
//! the call: no pool outlives it, and nothing runs in the background between calls.
//!
//! Splits nest: a [`map_in_threads`] of fewer items than threads lends each item the threads
//! it leaves idle ([`lent_threads`]), so a call of one run of texts still splits its products
//! and its attention's heads over all of its threads, and a call of many runs does not split
//! them further.
//!
//! The threaded wasm module (built with atomics) cannot start threads itself: there the items
//! run on the calling thread and rayon's pool of Web Workers, which the JavaScript side starts
//! once (`initThreadPool`, from wasm-bindgen-rayon) with one worker fewer than the encoder's
//! threads.

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::ops::Range;

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub use worker_pool::pool_worker_panicked;

thread_local! {
    /// What [`lent_threads`] returns on this thread.
    static LENT_THREADS: Cell<NonZeroUsize> = const { Cell::new(NonZeroUsize::MIN) };
}

/// Threads the work running on this thread may split itself over: within an item of
/// [`map_in_threads`], the call's threads shared out between the items it runs at once (2 for
/// the only item of a call on 2 threads, 1 for each of many); 1 outside.
pub(crate) fn lent_threads() -> NonZeroUsize {
    LENT_THREADS.with(Cell::get)
}

/// Threads a run of texts splits its own work over (a product's output columns, attention's
/// heads, runs of rows of a pass over values): in the threaded wasm module the
/// [`lent_threads`], which its pool's waiting workers take shares of; natively 1. Natively each split starts scoped threads, and a text's ~36
/// products made `--threads 2` at one text per call slower than one thread (SST-2 2.07 -> 3.60
/// ms, posts 10.93 -> 11.63 ms per text, `python3 scripts/bench-embed.py`).
pub(crate) fn threads_within_a_run() -> NonZeroUsize {
    if cfg!(all(target_arch = "wasm32", target_feature = "atomics")) {
        lent_threads()
    } else {
        NonZeroUsize::MIN
    }
}

/// `work()` with [`lent_threads`] = `threads`, the previous value back afterwards (also when
/// `work` panics).
fn with_lent_threads<R>(threads: NonZeroUsize, work: impl FnOnce() -> R) -> R {
    struct Restore(NonZeroUsize);
    impl Drop for Restore {
        fn drop(&mut self) {
            LENT_THREADS.with(|lent| lent.set(self.0));
        }
    }
    let _restore = Restore(LENT_THREADS.with(|lent| lent.replace(threads)));
    work()
}

/// `work` applied to every item, on up to `threads` threads (the calling one included),
/// results in the order of `items`. Each thread takes the next item not yet taken, so items of
/// uneven cost are shared out evenly. Where a thread cannot be started (wasm32 without
/// threads, a process out of threads) the calling thread does its share: the results are the
/// same, only slower. Each item's `work` may split itself over the [`lent_threads`] its share.
pub(crate) fn map_in_threads<T: Send, R: Send>(
    items: Vec<T>,
    threads: NonZeroUsize,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let busy = threads.get().min(items.len()).max(1);
    let lent = NonZeroUsize::new(threads.get() / busy).unwrap_or(NonZeroUsize::MIN);
    let work = |item| with_lent_threads(lent, || work(item));
    let helpers = busy - 1;
    if helpers == 0 {
        return items.into_iter().map(work).collect();
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
    {
        worker_pool::map_on_worker_pool(items, work)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "atomics")))]
    {
        map_on_scoped_threads(items, helpers, work)
    }
}

/// `work(groups, columns)` for runs of whole column groups of a product's `output` (rows of
/// `width` values, row-major; groups of `group` columns, the last maybe narrower), one run per
/// thread of up to `threads`, as even as whole groups allow: `groups` are the run's group
/// indices, `columns[row]` the run's values of that row, from its first group's first column
/// on. Every value is written by one run alone, as one thread would write it.
pub(crate) fn map_column_groups_in_threads(
    output: &mut [f32],
    width: usize,
    group: usize,
    threads: NonZeroUsize,
    work: impl Fn(Range<usize>, &mut [&mut [f32]]) + Sync,
) {
    let groups = width.div_ceil(group);
    let rows = output.len() / width.max(1);
    let parts = shares(threads).min(groups).max(1);
    let bounds: Vec<usize> = (0..=parts).map(|part| part * groups / parts).collect();
    let mut shares: Vec<(Range<usize>, Vec<&mut [f32]>)> = (bounds.windows(2))
        .map(|run| (run[0]..run[1], Vec::with_capacity(rows)))
        .collect();
    for mut row in output.chunks_exact_mut(width.max(1)) {
        for (groups, columns) in &mut shares {
            let share = (groups.end * group).min(width) - groups.start * group;
            let (columns_of_row, rest) = std::mem::take(&mut row).split_at_mut(share);
            columns.push(columns_of_row);
            row = rest;
        }
    }
    map_in_threads(shares, threads, |(groups, mut columns)| {
        work(groups, &mut columns)
    });
}

/// `work(first_row, run)` for runs of whole rows of `values` (rows of `width` values), as even
/// as whole rows allow, one run per thread of up to `threads`: for passes that compute each
/// row alone (quantizing, GELU, layer norms), whose values are then those of one thread. The
/// runs' results, in row order.
pub(crate) fn map_row_runs_in_threads<T: Send, R: Send>(
    values: &mut [T],
    width: usize,
    threads: NonZeroUsize,
    work: impl Fn(usize, &mut [T]) -> R + Sync,
) -> Vec<R> {
    let rows_per_run = rows_per_run(values.len() / width.max(1), threads);
    let runs: Vec<(usize, &mut [T])> = row_runs(values, width, rows_per_run)
        .enumerate()
        .map(|(run, values)| (run * rows_per_run, values))
        .collect();
    map_in_threads(runs, threads, |(first_row, run)| work(first_row, run))
}

/// [`map_row_runs_in_threads`] over two arrays of as many rows (of `widths.0` and `widths.1`
/// values): `work(first_row, first_run, second_run)` gets the same rows of both, for a pass
/// that computes one array's rows from the other's (quantizing rows as they are normalized).
pub(crate) fn map_paired_row_runs_in_threads<A: Send, B: Send, R: Send>(
    (first, second): (&mut [A], &mut [B]),
    widths: (usize, usize),
    threads: NonZeroUsize,
    work: impl Fn(usize, &mut [A], &mut [B]) -> R + Sync,
) -> Vec<R> {
    let rows = first.len() / widths.0.max(1);
    assert_eq!(rows, second.len() / widths.1.max(1), "as many rows in both");
    let rows_per_run = rows_per_run(rows, threads);
    let runs: Vec<_> = row_runs(first, widths.0, rows_per_run)
        .zip(row_runs(second, widths.1, rows_per_run))
        .enumerate()
        .map(|(run, values)| (run * rows_per_run, values))
        .collect();
    map_in_threads(runs, threads, |(first_row, (first, second))| {
        work(first_row, first, second)
    })
}

/// `values` (rows of `width`) in runs of `rows_per_run` rows, the last maybe shorter.
fn row_runs<T>(
    values: &mut [T],
    width: usize,
    rows_per_run: usize,
) -> impl Iterator<Item = &mut [T]> {
    values.chunks_mut(rows_per_run * width.max(1))
}

/// Rows in each run when `rows` rows are shared out over up to `threads` threads (the last run
/// maybe shorter).
fn rows_per_run(rows: usize, threads: NonZeroUsize) -> usize {
    rows.div_ceil(shares(threads)).max(1)
}

/// Shares a split over several threads is cut into: [`SHARES_PER_THREAD`] per thread, so
/// that a thread that starts late (a Web Worker still on its way back to the split) leaves
/// its last shares to the others rather than making them all wait for its half; one on one
/// thread.
fn shares(threads: NonZeroUsize) -> usize {
    match threads.get() {
        1 => 1,
        threads => threads * SHARES_PER_THREAD,
    }
}

/// See [`shares`].
const SHARES_PER_THREAD: usize = 4;

/// The threaded wasm module's pool (rayon's, on Web Workers): its `map_in_threads`, and how a
/// panic on one of its workers reaches the thread waiting for it.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
mod worker_pool {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Condvar, Mutex, PoisonError};

    // `map_on_worker_pool` lends its frame's borrows to the pool's workers for as long as a
    // panic cannot unwind it: wasm32-unknown-unknown only aborts, but say so if that changes.
    #[cfg(not(panic = "abort"))]
    compile_error!(
        "the threaded wasm module's pool needs panic = \"abort\" (see map_on_worker_pool)"
    );

    /// Rounds a helper with no split to help spins, looking for a new one, before it hands its
    /// worker back to rayon, which puts it to sleep at once: a text's products split every few
    /// hundred µs, and waking a sleeping Web Worker (`Atomics.notify`) takes tens of µs.
    const HELPER_LINGER_SPINS: u32 = 1 << 18;

    /// Rounds a thread that has run out of its split's items spins, waiting for the helpers
    /// still on the others, before it sleeps on [`POOL_CHANGED`]: their items took about as long
    /// as its own.
    const WAIT_SPINS: u32 = 1 << 14;

    /// The threaded wasm module's `map_in_threads`: the calling thread shares the items out
    /// with the pool's idle workers (helpers), each taking the next item not yet taken, and
    /// runs them too; the results come back in item order, so the bits are those of one
    /// thread. The calling thread never waits for a helper to start: items no helper has taken
    /// when it is free, it runs itself. The pool must have been started (by `initThreadPool`):
    /// rayon's default pool would try to spawn threads, which wasm cannot. Spawning every item
    /// and waiting made each of a post's ~40 splits wait for a Web Worker to wake: measured
    /// against that (MiniLM, Chromium, quiet machine, two threads, ms per Mastodon post, one
    /// post per call), the calling thread working 22.28–23.08 ms against 24.53–24.80, with the
    /// helpers lingering and the thread spinning before it sleeps 20.55 (one thread: 31.32),
    /// the same at 32 per call.
    ///
    /// A thread that has run out of items waits for the helpers still running its split's on
    /// [`POOL`] (not inside rayon), so that a panic on a helper reaches it: in wasm a panic traps
    /// the thread it happens on, and a thread waiting for the item that thread held would wait
    /// forever. [`pool_worker_panicked`] (from the panic hook) wakes it, and it panics with the
    /// worker's message, the way `map_on_scoped_threads` resumes a helper's panic natively: the
    /// calling thread's trap is the `internal_error` JavaScript reports.
    pub(super) fn map_on_worker_pool<T: Send, R: Send>(
        items: Vec<T>,
        work: impl Fn(T) -> R + Sync,
    ) -> Vec<R> {
        let count = items.len();
        let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|i| Mutex::new(Some(i))).collect();
        let results: Vec<Mutex<Option<R>>> = (0..count).map(|_| Mutex::new(None)).collect();
        // Each index is taken once, so its slots are full and their locks free.
        let run_item = |index: usize| {
            let item = slots[index]
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .expect("each item is taken once");
            let result = work(item);
            *results[index]
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(result);
        };
        let run_item: *const (dyn Fn(usize) + Sync + '_) = &run_item;
        // SAFETY: only the lifetime changes. `run_item` and what it borrows (`work`, `slots`,
        // `results`) live in this frame, and a helper calls it only between joining the split
        // and leaving it (`Split::help`). This frame closes the split (no helper joins it
        // afterwards) and returns only once every helper that joined has left; and where a
        // worker panicked it panics itself, which traps without unwinding (panic = "abort", or
        // this module does not compile), so the frame is never left and what it holds is never
        // freed. A helper that finds the split closed touches nothing of the frame: only the
        // `Split`, which it shares.
        let run_item: *const (dyn Fn(usize) + Sync + 'static) =
            unsafe { std::mem::transmute(run_item) };
        let split = Arc::new(Split {
            helpers: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            count,
            run_item,
        });
        open(&split);
        split.run_items();
        if split.close() > 0 || WORKER_PANICKED.load(Ordering::Acquire) {
            split.wait_for_helpers();
        }
        results
            .into_iter()
            .map(|result| {
                let result = result.into_inner().unwrap_or_else(PoisonError::into_inner);
                result.expect("every item is run before its split's thread returns")
            })
            .collect()
    }

    /// A `map_on_worker_pool`'s items, for the helpers: they take items by index, and run one
    /// with its frame's `run_item`.
    struct Split {
        /// The helpers running its items ([`HELPING`] each), and [`CLOSED`] once its thread has
        /// run out of items: no helper joins it afterwards.
        helpers: AtomicUsize,
        /// The index of the next item not yet taken.
        next: AtomicUsize,
        count: usize,
        /// The frame's `run_item`: see the SAFETY note in `map_on_worker_pool` for when a
        /// helper may call it.
        run_item: *const (dyn Fn(usize) + Sync),
    }

    const HELPING: usize = 1;
    const CLOSED: usize = 1 << (usize::BITS - 1);

    // SAFETY: `run_item` is `Sync` (threads may call it at once) and is called only while its
    // frame waits for the split (see `map_on_worker_pool`); the rest is atomics.
    unsafe impl Send for Split {}
    unsafe impl Sync for Split {}

    impl Split {
        /// Runs the next items not yet taken until none is left.
        fn run_items(&self) {
            loop {
                let index = self.next.fetch_add(1, Ordering::Relaxed);
                if index >= self.count {
                    return;
                }
                // SAFETY: on the split's thread, or on a helper that joined it and has not
                // left (see `map_on_worker_pool`).
                unsafe { (*self.run_item)(index) };
            }
        }

        fn has_items_left(&self) -> bool {
            self.next.load(Ordering::Relaxed) < self.count
        }

        /// On a helper: runs items of the split unless its thread has closed it.
        fn help(&self) {
            let mut helpers = self.helpers.load(Ordering::Acquire);
            loop {
                if helpers & CLOSED != 0 {
                    return;
                }
                match self.helpers.compare_exchange_weak(
                    helpers,
                    helpers + HELPING,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break,
                    Err(now) => helpers = now,
                }
            }
            self.run_items();
            // The last touch of the split's frame is before this: its thread may return now.
            let before = self.helpers.fetch_sub(HELPING, Ordering::AcqRel);
            if before == CLOSED | HELPING {
                // Under the lock, so that the thread cannot miss the wake-up between its check
                // and its wait.
                let _pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
                POOL_CHANGED.notify_all();
            }
        }

        /// On the split's thread, once it has run out of items: no helper joins it from now on;
        /// the count of those still running its items.
        fn close(self: &Arc<Self>) -> usize {
            let helpers = self.helpers.fetch_or(CLOSED, Ordering::AcqRel) / HELPING;
            with_open_splits(|open| open.retain(|split| !Arc::ptr_eq(split, self)));
            helpers
        }

        fn helpers_running(&self) -> bool {
            self.helpers.load(Ordering::Acquire) & !CLOSED != 0
        }

        /// On the split's thread, once closed: until its helpers have left it, or one of the
        /// pool's workers has panicked (then it panics too).
        fn wait_for_helpers(&self) {
            let spun_out = (0..WAIT_SPINS).all(|_| {
                std::hint::spin_loop();
                self.helpers_running()
            });
            if !spun_out && !WORKER_PANICKED.load(Ordering::Acquire) {
                return;
            }
            let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
            while self.helpers_running() && pool.worker_panic.is_none() {
                pool = POOL_CHANGED
                    .wait(pool)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            let worker_panic = pool.worker_panic.clone();
            // Unlocked before a panic, which traps this thread with the lock it holds.
            drop(pool);
            if let Some(message) = worker_panic {
                panic!("a worker of the thread pool panicked: {message}");
            }
        }
    }

    /// The splits whose items helpers may take, oldest first.
    static OPEN_SPLITS: Mutex<Vec<Arc<Split>>> = Mutex::new(Vec::new());
    /// `OPEN_SPLITS.len()`, for the helpers that look for one without locking.
    static OPEN_COUNT: AtomicUsize = AtomicUsize::new(0);

    /// `change` applied to the open splits, under their lock, with [`OPEN_COUNT`] kept equal to
    /// their number.
    fn with_open_splits<R>(change: impl FnOnce(&mut Vec<Arc<Split>>) -> R) -> R {
        let mut open = OPEN_SPLITS.lock().unwrap_or_else(PoisonError::into_inner);
        let result = change(&mut open);
        OPEN_COUNT.store(open.len(), Ordering::SeqCst);
        result
    }
    /// Helpers started on the pool's workers and not yet gone back to rayon.
    static HELPERS: AtomicUsize = AtomicUsize::new(0);
    /// Helpers of [`HELPERS`] that have no split to help and look for one.
    static IDLE_HELPERS: AtomicUsize = AtomicUsize::new(0);

    /// Offers `split` to the helpers, and starts as many as its items can use that no idle one
    /// covers, within the pool's workers.
    fn open(split: &Arc<Split>) {
        with_open_splits(|open| open.push(Arc::clone(split)));
        let wanted = split.count - 1;
        let mut starting = wanted.saturating_sub(IDLE_HELPERS.load(Ordering::SeqCst));
        let workers = rayon::current_num_threads();
        while starting > 0 {
            let helpers = HELPERS.load(Ordering::SeqCst);
            if helpers >= workers {
                return;
            }
            if HELPERS
                .compare_exchange(helpers, helpers + 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                rayon::spawn(help_splits);
                starting -= 1;
            }
        }
    }

    /// An open split with items left, if any; drops those that have none from the open ones.
    fn split_to_help() -> Option<Arc<Split>> {
        with_open_splits(|open| {
            open.retain(|split| split.has_items_left());
            open.first().cloned()
        })
    }

    /// A helper, on a worker of the pool: helps the open splits, and looks for new ones a while
    /// before it goes back to rayon.
    fn help_splits() {
        loop {
            while let Some(split) = split_to_help() {
                split.help();
            }
            IDLE_HELPERS.fetch_add(1, Ordering::SeqCst);
            let found = (0..HELPER_LINGER_SPINS).any(|_| {
                std::hint::spin_loop();
                OPEN_COUNT.load(Ordering::Relaxed) > 0
            });
            IDLE_HELPERS.fetch_sub(1, Ordering::SeqCst);
            if found {
                continue;
            }
            HELPERS.fetch_sub(1, Ordering::SeqCst);
            // A split opened meanwhile may have counted on this helper and started none.
            if OPEN_COUNT.load(Ordering::SeqCst) == 0 {
                return;
            }
            HELPERS.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// What the threads waiting for the pool's helpers learn from it (`map_on_worker_pool`).
    struct PoolState {
        /// The message of the first panic on a pool worker: that worker is gone, with the item it
        /// ran, so every call waiting for the pool fails with it, now and afterwards.
        worker_panic: Option<String>,
    }

    static POOL: Mutex<PoolState> = Mutex::new(PoolState { worker_panic: None });

    /// Whether [`PoolState::worker_panic`] is set, for the splits that no helper joined.
    static WORKER_PANICKED: AtomicBool = AtomicBool::new(false);

    /// Notified when the last helper leaves a closed split and when a pool worker panics.
    static POOL_CHANGED: Condvar = Condvar::new();

    /// For the threaded wasm module's panic hook, on the thread that panics, before the panic traps
    /// it: on a worker of rayon's pool, the calls waiting for the pool stop waiting and panic with
    /// `message` on their own thread, instead of waiting forever for the item the worker held.
    /// Elsewhere it does nothing: the panic traps the calling thread itself.
    pub fn pool_worker_panicked(message: &str) {
        if rayon::current_thread_index().is_none() {
            return;
        }
        let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        pool.worker_panic.get_or_insert_with(|| message.to_string());
        WORKER_PANICKED.store(true, Ordering::Release);
        POOL_CHANGED.notify_all();
    }
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
    fn items_fewer_than_threads_lend_them_the_idle_ones() {
        assert_eq!(lent_threads(), threads(1), "outside any split");
        for (items, n, lent) in [(1, 2, 2), (1, 3, 3), (2, 2, 1), (2, 5, 2), (8, 2, 1)] {
            let seen = map_in_threads(vec![(); items], threads(n), |()| lent_threads());
            assert_eq!(
                seen,
                vec![threads(lent); items],
                "{items} items, {n} threads"
            );
        }
        assert_eq!(lent_threads(), threads(1), "restored after the split");
    }

    #[test]
    fn column_groups_are_shared_out_whole_and_each_value_written_once() {
        // 3 rows of 37 columns: groups of 8 (the last one 5 wide) over up to 6 threads.
        for n in [1, 2, 3, 6] {
            let mut output = vec![0f32; 3 * 37];
            let runs = std::sync::Mutex::new(Vec::new());
            map_column_groups_in_threads(&mut output, 37, 8, threads(n), |groups, columns| {
                assert_eq!(columns.len(), 3);
                for row in columns.iter_mut() {
                    assert_eq!(row.len(), (groups.end * 8).min(37) - groups.start * 8);
                    for (offset, value) in row.iter_mut().enumerate() {
                        *value += (groups.start * 8 + offset) as f32;
                    }
                }
                runs.lock().unwrap().push(groups);
            });
            let mut runs = runs.into_inner().unwrap();
            runs.sort_by_key(|run| run.start);
            assert_eq!(runs.len(), shares(threads(n)).min(5), "{n} threads");
            assert!(runs.windows(2).all(|pair| pair[0].end == pair[1].start));
            assert_eq!((runs[0].start, runs[runs.len() - 1].end), (0, 5));
            let expected: Vec<f32> = (0..3).flat_map(|_| (0..37).map(|c| c as f32)).collect();
            assert_eq!(output, expected, "{n} threads");
        }
    }

    #[test]
    fn row_runs_are_whole_rows_and_each_value_written_once() {
        for n in 1..=4 {
            let mut values = vec![0u32; 7 * 3];
            let runs = map_row_runs_in_threads(&mut values, 3, threads(n), |first_row, run| {
                assert_eq!(run.len() % 3, 0, "whole rows");
                for (offset, value) in run.iter_mut().enumerate() {
                    *value += (first_row * 3 + offset) as u32;
                }
                (first_row, run.len() / 3)
            });
            let expected: Vec<u32> = (0..21).collect();
            assert_eq!(values, expected, "{n} threads");
            let even = 7usize.div_ceil(shares(threads(n)));
            assert!(
                runs.iter().all(|&(_, rows)| rows <= even),
                "{n} threads: {runs:?}"
            );
            assert_eq!(runs.len(), 7usize.div_ceil(even), "{n} threads");
            // The results come in row order: each run starts where the one before it ended.
            let starts: Vec<usize> = runs.iter().map(|&(first_row, _)| first_row).collect();
            let expected_starts: Vec<usize> = runs
                .iter()
                .scan(0, |end, &(_, rows)| {
                    let start = *end;
                    *end += rows;
                    Some(start)
                })
                .collect();
            assert_eq!(starts, expected_starts, "{n} threads");
        }
    }

    #[test]
    fn paired_row_runs_hold_the_same_rows_of_both() {
        for n in 1..=4 {
            let mut narrow = vec![0u32; 7 * 2];
            let mut wide: Vec<u32> = (0..7 * 3).collect();
            let starts = map_paired_row_runs_in_threads(
                (&mut narrow, &mut wide),
                (2, 3),
                threads(n),
                |first_row, narrow, wide| {
                    assert_eq!(narrow.len() / 2, wide.len() / 3, "as many rows");
                    for (narrow, wide) in narrow.chunks_exact_mut(2).zip(wide.chunks_exact(3)) {
                        narrow[0] = wide[0] / 3;
                        narrow[1] = wide[0] / 3 - first_row as u32;
                    }
                    first_row
                },
            );
            let rows_per_run = 7usize.div_ceil(shares(threads(n)));
            assert_eq!(starts.len(), 7usize.div_ceil(rows_per_run), "{n} threads");
            for (row, values) in narrow.chunks_exact(2).enumerate() {
                let run_start = *starts.iter().rev().find(|&&s| s <= row).unwrap();
                assert_eq!(
                    values,
                    [row as u32, (row - run_start) as u32],
                    "{n} threads"
                );
            }
        }
    }

    #[test]
    fn no_items_no_work() {
        assert!(map_in_threads(Vec::<u8>::new(), threads(4), |_| 1).is_empty());
    }
}

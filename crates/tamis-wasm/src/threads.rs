//! How many threads a model's calls run on, and why: the default module runs on the thread
//! that calls it; the threaded one (feature `threads`, `scripts/build-wasm.sh --threads`) splits
//! each call over a pool of Web Workers sharing its memory, which JavaScript starts once per
//! context ([`start_threads`]) where the host allows it. JavaScript decides which module to load
//! (it must, before any module runs) and tells the model why with a [`ThreadsReason`] name;
//! `js/src/types.ts` types the same names, and a test below keeps the two equal.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

/// Workers in this module's pool: 1 (no pool) until [`start_threads`] has started one.
static POOL_THREADS: AtomicUsize = AtomicUsize::new(1);

/// The threads an encoder splits a call over: the pool's workers where the load asked for
/// threads and has them, else the calling thread alone.
pub fn threads_for(reason: ThreadsReason) -> NonZeroUsize {
    let pool = NonZeroUsize::new(POOL_THREADS.load(Ordering::Relaxed));
    match reason {
        ThreadsReason::Asked => pool.unwrap_or(NonZeroUsize::MIN),
        _ => NonZeroUsize::MIN,
    }
}

/// Starts the pool of Web Workers (wasm-bindgen-rayon's `initThreadPool`) that, with the thread
/// calling into the module, makes `count` threads: the models loaded afterwards split their
/// calls over them, the calling thread taking its share. Once per context: rayon's pool is
/// global.
#[cfg(feature = "threads")]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = startThreads)]
pub async fn start_threads(count: usize) -> Result<(), wasm_bindgen::JsValue> {
    let workers = count.saturating_sub(1).max(1);
    wasm_bindgen_futures::JsFuture::from(wasm_bindgen_rayon::init_thread_pool(workers)).await?;
    POOL_THREADS.store(count, Ordering::Relaxed);
    Ok(())
}

/// Which module runs: a [`ThreadsModule`] name as JavaScript sees it.
pub fn module_name() -> &'static str {
    if cfg!(feature = "threads") {
        ThreadsModule::Threaded.name()
    } else {
        ThreadsModule::SingleThread.name()
    }
}

/// The two wasm modules of the npm package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadsModule {
    /// `wasm/`: one thread, runs anywhere.
    SingleThread,
    /// `wasm-threads/`: shared memory and a pool of Web Workers.
    Threaded,
}

impl ThreadsModule {
    pub const ALL: [ThreadsModule; 2] = [ThreadsModule::SingleThread, ThreadsModule::Threaded];

    pub fn name(self) -> &'static str {
        match self {
            ThreadsModule::SingleThread => "single_thread",
            ThreadsModule::Threaded => "threaded",
        }
    }
}

/// Defines [`ThreadsReason`] with its names and sentences from one table.
macro_rules! threads_reasons {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal: $sentence:literal,)*) => {
        /// Why a model runs on the threads it runs on, as `Tamis.load` decided.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ThreadsReason {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ThreadsReason {
            /// Every reason, in the order `js/src/types.ts` lists them.
            pub const ALL: &'static [ThreadsReason] = &[$(ThreadsReason::$variant,)*];

            /// The name JavaScript passes and reads, e.g. `"main_thread"`.
            pub fn name(self) -> &'static str {
                match self {
                    $(ThreadsReason::$variant => $name,)*
                }
            }

            /// Why, as the end of a sentence that starts with the count of threads.
            fn sentence(self) -> &'static str {
                match self {
                    $(ThreadsReason::$variant => $sentence,)*
                }
            }
        }
    };
}

threads_reasons! {
    /// The threaded module runs its pool of workers.
    Asked = "asked":
        "as asked, on the threaded module's pool of Web Workers",
    /// `threads: 1`, the default.
    OneAsked = "one_asked":
        "Tamis.load's threads option is 1 (the default); pass threads: 2 or 'auto' in a cross-origin isolated worker",
    /// The browser withholds shared memory from pages that are not cross-origin isolated.
    NotCrossOriginIsolated = "not_cross_origin_isolated":
        "the page is not cross-origin isolated (needs COOP/COEP headers: Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)",
    /// No `SharedArrayBuffer` at all.
    NoSharedMemory = "no_shared_memory":
        "this JavaScript host has no SharedArrayBuffer",
    /// A page's main thread may not block on `Atomics.wait`, which the pool needs.
    MainThread = "main_thread":
        "a page's main thread cannot wait for other threads (Atomics.wait); load tamis in a worker (tamis/client, TamisWorker)",
    /// A service worker (an extension's background, for one) has no `Worker` constructor.
    NoWorkers = "no_workers":
        "this context cannot start Web Workers (a service worker has no Worker constructor)",
    /// Node: wasm-bindgen-rayon's pool is made of Web Workers, which Node does not have.
    Node = "node":
        "Node.js has no Web Workers, which the threaded module's pool is made of; Node runs the single-thread module",
    /// The classic-script bundles cannot import the threaded module's ES modules.
    ClassicScript = "classic_script":
        "the classic-script bundles (worker.classic.js, tamis.classic.js) cannot import the threaded module; use the module worker (tamis/worker)",
    /// The threaded module loaded but its workers did not start.
    PoolFailed = "pool_failed":
        "the threaded module's Web Workers did not start (see the console); it runs on the calling thread",
    /// A context runs one module: an earlier load there chose the single-thread one.
    FirstLoad = "first_load":
        "an earlier load in this worker chose the single-thread module (its threads option was 1); load tamis with threads in a new worker",
}

/// A name JavaScript passed that is no [`ThreadsReason`]: a bug in the JS wrapper.
#[derive(Debug, thiserror::Error)]
#[error("unknown threads reason {0:?}; the known ones are in js/src/types.ts (ThreadsReason)")]
pub struct UnknownThreadsReason(String);

impl std::str::FromStr for ThreadsReason {
    type Err = UnknownThreadsReason;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|reason| reason.name() == name)
            .ok_or_else(|| UnknownThreadsReason(name.to_string()))
    }
}

/// The `threads` part of `tamis.diagnostics()`.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadsDiagnostics {
    /// Threads a call's work is split over.
    pub count: usize,
    /// A [`ThreadsModule`] name.
    pub module: &'static str,
    /// A [`ThreadsReason`] name.
    pub code: &'static str,
    /// e.g. `1 thread: the page is not cross-origin isolated (...)`.
    pub reason: String,
}

impl ThreadsDiagnostics {
    pub fn of(reason: ThreadsReason) -> Self {
        let count = threads_for(reason).get();
        let threads = if count == 1 { "thread" } else { "threads" };
        Self {
            count,
            module: module_name(),
            code: reason.name(),
            reason: format!("{count} {threads}: {}", reason.sentence()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typescript::union_members;

    /// The TypeScript side; `include_str!` reruns this test when it changes.
    const TYPES_TS: &str = include_str!("../../../js/src/types.ts");

    #[test]
    fn the_typescript_threads_names_are_the_rust_ones() {
        let reasons: Vec<&str> = ThreadsReason::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(union_members(TYPES_TS, "ThreadsReason"), reasons);
        let modules: Vec<&str> = ThreadsModule::ALL.map(ThreadsModule::name).into();
        assert_eq!(union_members(TYPES_TS, "ThreadsModule"), modules);
    }

    #[test]
    fn names_read_back_and_sentences_start_with_the_count() {
        for reason in ThreadsReason::ALL {
            assert_eq!(reason.name().parse::<ThreadsReason>().unwrap(), *reason);
        }
        assert!("two".parse::<ThreadsReason>().is_err());
        let diagnostics = ThreadsDiagnostics::of(ThreadsReason::NotCrossOriginIsolated);
        assert_eq!(diagnostics.module, "single_thread");
        assert!(
            diagnostics
                .reason
                .starts_with("1 thread: the page is not cross-origin isolated"),
            "{}",
            diagnostics.reason
        );
    }
}

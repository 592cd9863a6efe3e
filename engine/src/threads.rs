//! The thread pool berth's programs run their parallel parts on.
//!
//! Loading a big host's state, its `status` view and fleet placement split
//! their work with rayon. By default the thread that asks waits, idle, while
//! the pool's own threads do the work: on a busy machine a pool thread the
//! scheduler has not run yet made the caller wait for it (most of the
//! parallel parts of `berth status` at 5,000 holdings under a load of 2,
//! docs/performance.md). Here the calling thread is one of the pool's
//! threads (rayon's `use_current_thread`): the work it splits goes to its
//! own queue, it runs what no other thread has taken, and it waits only for
//! work another thread is already doing.

/// Makes the calling thread (the program's main thread) a thread of rayon's
/// global pool, beside `RAYON_NUM_THREADS` or one thread per core in all, at
/// least two (so that work sent to the pool from another thread always has
/// a thread that takes it). Call it once, first thing; later calls, or a
/// pool already built, change nothing.
pub fn init_pool() {
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(2))
        .use_current_thread()
        .build_global();
}

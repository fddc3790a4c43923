//! This process's CPU time.
//!
//! Read from `CLOCK_PROCESS_CPUTIME_ID` (user + system time of every thread, exited ones included,
//! in nanoseconds) rather than `/proc/self/stat`, whose 10 ms ticks are too coarse here: 200 turns
//! at 0.3 ms of CPU each are 60 ms, six ticks, so one tick either way would move the figure by 17 %.

/// User plus system CPU seconds this process has used; `None` where the clock is unavailable.
pub fn process_cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        Some(t.tv_sec as f64 + t.tv_nsec as f64 / 1e9)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spins until `wall` has passed on the monotonic clock.
    fn spin(wall: std::time::Duration) -> u64 {
        let start = std::time::Instant::now();
        let mut n = 0u64;
        while start.elapsed() < wall {
            n = std::hint::black_box(n.wrapping_add(1));
        }
        n
    }

    #[test]
    fn counts_this_threads_work_finely_and_never_goes_back() {
        if !cfg!(unix) {
            return;
        }
        let before = process_cpu_seconds().expect("the process CPU clock is available on unix");
        spin(std::time::Duration::from_millis(30));
        let after = process_cpu_seconds().expect("the process CPU clock is available on unix");
        let used = after - before;
        // At least most of the 30 ms spun (the thread can be descheduled on a busy machine, so no
        // upper bound), and resolved finer than /proc's 10 ms ticks would be.
        assert!(used > 0.0 && after.is_finite(), "{before} -> {after}");
        assert!(used >= 0.001, "spinning 30 ms registered only {used} s");
        let a = process_cpu_seconds().expect("clock");
        let b = process_cpu_seconds().expect("clock");
        assert!(b >= a);
    }

    #[test]
    fn includes_other_threads() {
        if !cfg!(unix) {
            return;
        }
        let before = process_cpu_seconds().expect("clock");
        std::thread::spawn(|| spin(std::time::Duration::from_millis(30)))
            .join()
            .expect("spinner thread");
        let used = process_cpu_seconds().expect("clock") - before;
        assert!(
            used >= 0.001,
            "another thread's 30 ms registered only {used} s"
        );
    }
}

//! This process's CPU time, from `/proc/self/stat` (Linux).

/// Clock ticks per second for `utime`/`stime`: `USER_HZ`, which Linux fixes at 100 for user space
/// on every architecture it supports.
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds this process has used; `None` where `/proc` is unavailable.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_seconds_from_stat(&stat)
}

/// Parses `utime + stime` out of a `/proc/<pid>/stat` line. The command name (field 2) is in
/// parentheses and may itself hold spaces and `)`, so fields are counted from the *last* `)`:
/// after it come field 3 (state) onwards, which puts utime (field 14) and stime (field 15) at
/// indexes 11 and 12.
pub fn cpu_seconds_from_stat(stat: &str) -> Option<f64> {
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real line (from `cat /proc/self/stat`), utime 1234 and stime 56 ticks.
    const LINE: &str = "4242 (cma) S 1 4242 4242 0 -1 4194560 1051 0 0 0 1234 56 0 0 20 0 3 0 \
                        123456 1234567 890 18446744073709551615 1 1 0 0 0 0 0 4096 17663 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn sums_utime_and_stime() {
        assert_eq!(cpu_seconds_from_stat(LINE), Some(12.90));
    }

    #[test]
    fn a_command_name_with_spaces_and_parentheses_does_not_shift_fields() {
        let line = LINE.replace("(cma)", "(my (odd) name)");
        assert_eq!(cpu_seconds_from_stat(&line), Some(12.90));
    }

    #[test]
    fn truncated_or_garbled_lines_are_none() {
        assert_eq!(cpu_seconds_from_stat(""), None);
        assert_eq!(cpu_seconds_from_stat("4242 (cma) S 1 2 3"), None);
        assert_eq!(
            cpu_seconds_from_stat(&LINE.replace(" 1234 56 ", " x 56 ")),
            None
        );
        assert_eq!(cpu_seconds_from_stat("no parenthesis at all"), None);
    }

    #[test]
    fn this_process_has_a_cpu_time_on_linux() {
        if cfg!(target_os = "linux") {
            let t = process_cpu_seconds().expect("/proc/self/stat is readable on Linux");
            assert!(t >= 0.0 && t.is_finite());
        }
    }
}

//! The process's own CPU time, memory and file descriptors, read from /proc/self (Linux).

/// What /metrics reports about the process; each is `None` where /proc does not say.
#[derive(Debug, Default, PartialEq)]
pub(super) struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub start_time_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub threads: Option<u64>,
    pub heap: Option<crate::daemon::memory::Heap>,
}

impl ProcessStats {
    pub fn read() -> Self {
        // SAFETY: sysconf has no preconditions.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let statm = std::fs::read_to_string("/proc/self/statm").ok();
        let btime = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        let mut p = parse(stat.as_deref(), statm.as_deref(), ticks, page, btime);
        p.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64);
        p.heap = crate::daemon::memory::heap();
        p
    }
}

fn parse(
    stat: Option<&str>,
    statm: Option<&str>,
    ticks_per_s: i64,
    page_bytes: i64,
    boot_time_s: Option<f64>,
) -> ProcessStats {
    let mut p = ProcessStats::default();
    let ticks = (ticks_per_s > 0).then_some(ticks_per_s as f64);
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    if let Some(rest) = stat.and_then(|s| s.rsplit_once(')')).map(|(_, r)| r) {
        let f: Vec<&str> = rest.split_whitespace().collect();
        // f[0] is field 3 (state): utime is field 14, stime 15, num_threads 20, starttime 22.
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        if let (Some(u), Some(s), Some(t)) = (num(11), num(12), ticks) {
            p.cpu_seconds = Some((u + s) as f64 / t);
        }
        p.threads = num(17);
        if let (Some(start), Some(t), Some(boot)) = (num(19), ticks, boot_time_s) {
            p.start_time_seconds = Some(boot + start as f64 / t);
        }
    }
    if let (Some(m), Ok(page)) = (statm, u64::try_from(page_bytes)) {
        let mut it = m.split_whitespace().map(|v| v.parse::<u64>().ok());
        if let (Some(Some(size)), Some(Some(resident))) = (it.next(), it.next()) {
            p.virtual_bytes = Some(size * page);
            p.resident_bytes = Some(resident * page);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_tricky_command_name() {
        let stat = "4242 (se is) mo)) S 1 4242 4242 0 -1 4194560 500 0 0 0 150 50 0 0 20 0 7 0 1000 12345678 900 18446744073709551615";
        let p = parse(
            Some(stat),
            Some("3000 900 100 1 0 200 0\n"),
            100,
            4096,
            Some(1_700_000_000.0),
        );
        assert_eq!(p.cpu_seconds, Some(2.0));
        assert_eq!(p.threads, Some(7));
        assert_eq!(p.start_time_seconds, Some(1_700_000_010.0));
        assert_eq!(p.resident_bytes, Some(900 * 4096));
        assert_eq!(p.virtual_bytes, Some(3000 * 4096));
    }

    #[test]
    fn missing_or_garbled_proc_files_give_nothing() {
        assert_eq!(parse(None, None, 100, 4096, None), ProcessStats::default());
        assert_eq!(
            parse(Some("garbage"), Some("x y"), 100, 4096, None),
            ProcessStats::default()
        );
    }

    #[test]
    fn reads_this_process() {
        let p = ProcessStats::read();
        assert!(p.resident_bytes.unwrap() > 0);
        assert!(p.cpu_seconds.unwrap() >= 0.0);
        assert!(p.open_fds.unwrap() >= 3);
    }
}

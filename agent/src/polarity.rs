//! Which way is worse for a signal, judged from its name: the significance rules hold back a
//! move in the better direction ("relief is not a page"). A leaf: imports nothing of the agent.

/// The direction in which a signal's moves are bad news.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polarity {
    /// Higher is worse: a fall is relief (the CPU idle again after a build).
    HigherIsWorse,
    /// Either way may be bad news: a fall can be an outage (traffic gone, a peer down).
    Unknown,
}

impl Polarity {
    /// The polarity of `signal` (names as in docs/sources.md). Higher is worse for:
    ///
    /// - a resource's use or saturation: the host's CPU (`host.cpu.utilization`, each
    ///   `host.cpu.core.{n}.utilization`), its load averages (`host.load.*`), memory and swap
    ///   used (`host.memory.used_ratio`, `host.swap.used_ratio`), a filesystem's used space
    ///   (`host.filesystem.{mount}.used_ratio`), a process group's CPU and memory
    ///   (`process.{group}.cpu.utilization`, `.memory.rss`);
    /// - failures: a log source's error rate (`log.{source}.errors_per_s`, the journal's units
    ///   too), an interface's errors (`host.network.{iface}.rx_errors_per_s`, `tx_errors_per_s`),
    ///   a process group's restarts (`process.{group}.restarts`).
    ///
    /// Everything else is unknown: line and template rates, network and disk throughput,
    /// process, thread and descriptor counts, and every scraped series (their names say
    /// nothing reliable about their meaning).
    pub fn of(signal: &str) -> Polarity {
        let higher_is_worse = match signal.split_once('.') {
            Some(("host", rest)) => {
                rest == "cpu.utilization"
                    || (rest.starts_with("cpu.core.") && rest.ends_with(".utilization"))
                    || rest.starts_with("load.")
                    || rest == "memory.used_ratio"
                    || rest == "swap.used_ratio"
                    || (rest.starts_with("filesystem.") && rest.ends_with(".used_ratio"))
                    || (rest.starts_with("network.")
                        && (rest.ends_with(".rx_errors_per_s")
                            || rest.ends_with(".tx_errors_per_s")))
            }
            Some(("process", rest)) => {
                rest.ends_with(".cpu.utilization")
                    || rest.ends_with(".memory.rss")
                    || rest.ends_with(".restarts")
            }
            Some(("log", rest)) => rest.ends_with(".errors_per_s"),
            _ => false,
        };
        if higher_is_worse {
            Polarity::HigherIsWorse
        } else {
            Polarity::Unknown
        }
    }
}

/// Whether `signal` is a share of a capacity that fills by accumulation: a filesystem's used
/// space (`host.filesystem.{mount}.used_ratio`), which grows by writes that stay until deleted
/// and is full at 1. Its early stage judges a fill by where it leads (see the detectors'
/// `early.rs`). Not memory or swap: a process allocating and freeing gigabytes in seconds is
/// their ordinary movement.
pub fn fills_to_capacity(signal: &str) -> bool {
    signal
        .strip_prefix("host.filesystem.")
        .is_some_and(|rest| rest.ends_with(".used_ratio"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_filesystem_s_used_share_fills_to_capacity() {
        for s in [
            "host.filesystem.root.used_ratio",
            "host.filesystem.var_lib.used_ratio",
        ] {
            assert!(fills_to_capacity(s), "{s}");
        }
        for s in [
            "host.memory.used_ratio",
            "host.swap.used_ratio",
            "host.filesystem.root.used_bytes",
            "host.cpu.utilization",
            "app.filesystem.root.used_ratio",
            "log.app.errors_per_s",
        ] {
            assert!(!fills_to_capacity(s), "{s}");
        }
    }

    #[test]
    fn resources_use_and_error_rates_are_worse_higher_the_rest_unknown() {
        for s in [
            "host.cpu.utilization",
            "host.cpu.core.0.utilization",
            "host.cpu.core.15.utilization",
            "host.load.1m",
            "host.load.15m",
            "host.memory.used_ratio",
            "host.swap.used_ratio",
            "host.filesystem.root.used_ratio",
            "host.filesystem.var_lib.used_ratio",
            "host.network.eth0.rx_errors_per_s",
            "host.network.eth0.tx_errors_per_s",
            "process.web.cpu.utilization",
            "process.web.memory.rss",
            "process.web.restarts",
            "log.app.errors_per_s",
            "log.journal.nginx.errors_per_s",
        ] {
            assert_eq!(Polarity::of(s), Polarity::HigherIsWorse, "{s}");
        }
        for s in [
            "log.app.lines_per_s",
            "log.app.template.7.count",
            "log.app.template.other.count",
            "log.app.template.7.new",
            "host.network.eth0.rx_bytes_per_s",
            "host.disk.sda.write_bytes_per_s",
            "host.processes.count",
            "process.web.count",
            "process.web.threads",
            "process.web.fds",
            "scrape.app.up",
            "scrape.app.process_cpu_utilization",
            "scrape.app.http_errors_total.per_s",
            "scrape.app.memory.rss",
            // A look-alike outside the host's own names.
            "app.cpu.utilization",
        ] {
            assert_eq!(Polarity::of(s), Polarity::Unknown, "{s}");
        }
    }
}

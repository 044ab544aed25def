//! Real anomalies for end-to-end tests, induced on the machine the agent watches.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A burst of idle child processes: `host.processes.count` jumps by `n`, far outside what the
/// agent learned, without loading the CPU. Unlike a CPU burn this does not depend on how busy a
/// shared 2-core CI machine is; with the default `min_scale = 5` for that signal, 400 extra
/// processes are far outside even a baseline learned during a busy build. They are killed
/// when this is dropped.
pub struct ProcessSpike {
    children: Vec<Child>,
}

impl ProcessSpike {
    /// Starts `n` `sleep` processes (each ends by itself after two minutes at the latest).
    pub fn start(n: usize) -> ProcessSpike {
        let children = (0..n)
            .map(|_| {
                Command::new("sleep")
                    .arg("120")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn sleep")
            })
            .collect();
        ProcessSpike { children }
    }

    /// A burst of `n` processes held for `hold`, then ended.
    pub fn burst(n: usize, hold: Duration) {
        let spike = ProcessSpike::start(n);
        std::thread::sleep(hold);
        drop(spike);
    }
}

impl Drop for ProcessSpike {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
    }
}

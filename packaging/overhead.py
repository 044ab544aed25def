#!/usr/bin/env python3
"""Idle overhead of the installed seismo agent beside Netdata and prometheus-node-exporter,
all three from their Debian packages, started together and measured over the same span.

    sudo python3 packaging/overhead.py [--secs 300] [--warmup 30] [--scrape 10]

Each daemon runs in the foreground the way its systemd unit starts it (systemd need not be
PID 1): seismo as user seismo with STATE_DIRECTORY=/var/lib/seismo and the installed
/etc/seismo/seismo.toml; `netdata -D` (it drops to user netdata itself); node-exporter as user
prometheus, scraped every --scrape seconds as Prometheus would (an unscraped exporter does
nothing). Loopback ports only. CPU is user+system time of each daemon's whole process tree
(Netdata's plugins included) over the measured span, as % of one core; RSS is the tree's sum,
sampled every 5 s. Prints a table.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") / 1024


def children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def tree(pid):
    kids, out, todo = children_map(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_and_rss(pid):
    """(user+system ticks, RSS KiB, processes) of pid's tree; children that exited are counted
    through cutime/cstime of their waiting parent."""
    ticks, rss, n = 0, 0.0, 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        rss += int(fields[21]) * PAGE_KIB
        n += 1
    return ticks, rss, n


def start(name, cmd, **kw):
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, **kw)
    print(f"overhead: started {name} (pid {proc.pid}): {' '.join(cmd)}", file=sys.stderr)
    return proc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--scrape", type=int, default=10)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("overhead: run as root (the daemons run as their own users)")
    for path in ("/usr/bin/seismo", "/usr/sbin/netdata", "/usr/bin/prometheus-node-exporter"):
        if not os.path.exists(path):
            sys.exit(f"overhead: {path} is missing: apt install ./seismo_*.deb netdata prometheus-node-exporter")

    version = {
        "seismo": subprocess.run(["dpkg-query", "-W", "-f=${Version}", "seismo"], capture_output=True, text=True).stdout,
        "netdata": subprocess.run(["dpkg-query", "-W", "-f=${Version}", "netdata-core"], capture_output=True, text=True).stdout,
        "node-exporter": subprocess.run(["dpkg-query", "-W", "-f=${Version}", "prometheus-node-exporter"], capture_output=True, text=True).stdout,
    }
    env = dict(os.environ, STATE_DIRECTORY="/var/lib/seismo", HOME="/var/lib/seismo")
    procs = {
        "seismo": start("seismo", ["setpriv", "--reuid", "seismo", "--regid", "seismo", "--init-groups", "--",
                                   "/usr/bin/seismo", "run", "--config", "/etc/seismo/seismo.toml"], env=env),
        "netdata": start("netdata", ["/usr/sbin/netdata", "-D", "-p", "29999", "-i", "127.0.0.1"]),
        "node-exporter": start("node-exporter", ["setpriv", "--reuid", "prometheus", "--regid", "prometheus",
                                                 "--init-groups", "--", "/usr/bin/prometheus-node-exporter",
                                                 "--web.listen-address=127.0.0.1:29100"]),
    }
    try:
        def scrape():
            try:
                with urllib.request.urlopen("http://127.0.0.1:29100/metrics", timeout=5) as r:
                    r.read()
            except OSError as e:
                print(f"overhead: scrape failed: {e}", file=sys.stderr)

        time.sleep(a.warmup)
        for name, p in procs.items():
            if p.poll() is not None:
                sys.exit(f"overhead: {name} exited during warm-up with status {p.returncode}")
        first = {n: cpu_and_rss(p.pid) for n, p in procs.items()}
        rss = {n: [] for n in procs}
        nprocs = {n: 0 for n in procs}
        t0 = time.monotonic()
        next_scrape = t0
        next_sample = t0
        while time.monotonic() - t0 < a.secs:
            now = time.monotonic()
            if now >= next_scrape:
                scrape()
                next_scrape += a.scrape
            if now >= next_sample:
                for n, p in procs.items():
                    _, r, k = cpu_and_rss(p.pid)
                    rss[n].append(r)
                    nprocs[n] = max(nprocs[n], k)
                next_sample += 5
            time.sleep(0.2)
        elapsed = time.monotonic() - t0
        last = {n: cpu_and_rss(p.pid) for n, p in procs.items()}
        for name, p in procs.items():
            if p.poll() is not None:
                sys.exit(f"overhead: {name} exited during the measurement with status {p.returncode}")
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    print(f"Idle overhead over {elapsed:.0f} s (after {a.warmup} s warm-up), all three running together;"
          f" node-exporter scraped every {a.scrape} s; load average {os.getloadavg()[0]:.1f} at the end"
          f" on {os.cpu_count()} cores")
    print()
    print("| daemon | version | CPU, % of one core | RSS mean | RSS peak | processes |")
    print("|---|---|---|---|---|---|")
    for n in procs:
        cpu = (last[n][0] - first[n][0]) / TICK / elapsed * 100
        mean = sum(rss[n]) / len(rss[n]) / 1024
        peak = max(rss[n]) / 1024
        print(f"| {n} | {version[n]} | {cpu:.2f} % | {mean:.1f} MiB | {peak:.1f} MiB | {nprocs[n]} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the training log for the profile-guided build (packaging/pgo-profile.sh) to stdout.

Usage: pgo_train_log.py [LINES]   (default 200,000; seed fixed, so the file is reproducible)

The profile should weigh the code paths as logs in the field do, not as one benchmark does: so
the lines are drawn from many common layouts (BSD syslog, RFC 5424, Logback/Log4j, Python
logging, glog, Go's log, PostgreSQL, logcat, Apache error, combined access, JSON lines,
logfmt, Java stack traces, bare messages) with the variable kinds the miner masks (addresses,
ports, host names, ids, paths, URLs, durations, sizes, dates in messages, key=value pairs,
quoted strings, e-mail and MAC addresses). None of it is copied from an evaluation dataset.
"""
import random
import sys

rng = random.Random(20261207)
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()
HOSTS = ["app-01", "app-02", "edge-7", "db-primary", "db-replica-2", "mq-1", "ci-runner-14"]
PROGS = [("sshd", True), ("systemd", True), ("kernel", False), ("CRON", True),
         ("postfix/smtpd", True), ("dockerd", True), ("kubelet", True), ("haproxy", True)]
USERS = ["root", "deploy", "www-data", "postgres", "jenkins", "maria", "ops"]
LOGGERS = ["com.acme.billing.InvoiceService", "org.example.http.Router", "io.shop.cart.CartRepo",
           "net.corp.auth.LdapRealm", "app.worker.Queue"]
LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]
DOMAINS = ["example.com", "corp.internal", "shop.example.org"]


def ip4():
    return f"{rng.choice([10, 172, 192])}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def ip6():
    return "2001:db8:" + ":".join(f"{rng.randrange(65536):x}" for _ in range(3)) + "::" + f"{rng.randrange(65536):x}"


def hexs(n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def uuid():
    h = hexs(32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def mac():
    return ":".join(hexs(2) for _ in range(6))


def fqdn():
    return f"{rng.choice(['api', 'cdn', 'auth', 'node' + str(rng.randrange(40))])}.{rng.choice(DOMAINS)}"


def path():
    parts = [rng.choice(["var", "srv", "opt", "home", "data", "tmp"]),
             rng.choice(["lib", "log", "cache", "www", USERS[rng.randrange(len(USERS))]]),
             f"{rng.choice(['chunk', 'part', 'seg', 'img'])}-{rng.randrange(100000)}.{rng.choice(['dat', 'log', 'png', 'json'])}"]
    return "/" + "/".join(parts)


def dur():
    return rng.choice([f"{rng.randrange(1, 999)}ms", f"{rng.random() * 30:.2f}s", f"{rng.randrange(1, 59)}m",
                       f"{rng.randrange(100, 99999)}us"])


def size():
    return rng.choice([f"{rng.randrange(1, 1024)} KB", f"{rng.random() * 8:.1f}GB", f"{rng.randrange(1, 10**6):,}",
                       f"{rng.randrange(1, 4096)} bytes"])


def iso(sep="T", frac=3, zone="Z"):
    s = (f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}{sep}{rng.randrange(24):02d}:"
         f"{rng.randrange(60):02d}:{rng.randrange(60):02d}")
    if frac:
        s += "." + "".join(rng.choice("0123456789") for _ in range(frac))
    return s + zone


def clock():
    return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"


def message():
    r = rng.randrange(22)
    if r == 0:
        return f"Accepted password for {rng.choice(USERS)} from {ip4()} port {rng.randrange(1024, 65536)} ssh2"
    if r == 1:
        return f"Connection closed by {ip4()} port {rng.randrange(1024, 65536)} [preauth]"
    if r == 2:
        return f"Started {rng.choice(['nginx', 'backup', 'logrotate', 'certbot'])}.service - {rng.choice(['A high performance web server', 'Nightly backup', 'Rotate log files'])}."
    if r == 3:
        return f"eth{rng.randrange(3)}: link up, {rng.choice([100, 1000, 10000])}Mbps, full-duplex, lpa 0x{hexs(4).upper()}"
    if r == 4:
        return f"connect to {fqdn()}:{rng.choice([443, 5432, 6379, 8080])} failed after {dur()} (retry {rng.randrange(1, 6)}/5)"
    if r == 5:
        return f"user={rng.choice(USERS)} action={rng.choice(['login', 'logout', 'delete', 'update'])} id={uuid()} status={rng.choice([200, 201, 403, 404, 500])}"
    if r == 6:
        return f"wrote {size()} to {path()} in {dur()}"
    if r == 7:
        return f"cache miss for key session:{hexs(16)} (ttl {rng.randrange(1, 3600)}s)"
    if r == 8:
        return f"GET https://{fqdn()}/v{rng.randrange(1, 4)}/items/{rng.randrange(10**6)}?page={rng.randrange(50)} returned {rng.choice([200, 304, 502])}"
    if r == 9:
        return f"DHCPACK on {ip4()} to {mac()} via eth{rng.randrange(2)}"
    if r == 10:
        return f"mail from=<{rng.choice(USERS)}@{rng.choice(DOMAINS)}> size={rng.randrange(300, 90000)} nrcpt={rng.randrange(1, 5)} (queue active)"
    if r == 11:
        return f"Job {rng.choice(['reindex', 'vacuum', 'export'])} scheduled for {iso(' ', 0, '')} finished with state {rng.choice(['SUCCESS', 'FAILED'])}"
    if r == 12:
        return f"listening on [{ip6()}]:{rng.randrange(1024, 65536)}"
    if r == 13:
        return f"Out of memory: Killed process {rng.randrange(100, 99999)} ({rng.choice(['java', 'python3', 'node'])}) total-vm:{rng.randrange(10**5, 10**7)}kB"
    if r == 14:
        return f'request failed: error="{rng.choice(["connection reset by peer", "deadline exceeded", "no route to host"])}" peer={ip4()}:{rng.randrange(1024, 65536)}'
    if r == 15:
        return f"Slow query ({dur()}): SELECT * FROM {rng.choice(['orders', 'users', 'events'])} WHERE id = {rng.randrange(10**7)}"
    if r == 16:
        return f"Removed slice User Slice of UID {rng.randrange(1000, 1100)}."
    if r == 17:
        return f"GC pause (G1 Evacuation Pause) {rng.random() * 200:.3f}ms, heap {rng.randrange(100, 900)}M->{rng.randrange(50, 400)}M({rng.choice([1024, 2048])}M)"
    if r == 18:
        return f"{rng.choice(['starting', 'stopping', 'reloading'])} {rng.choice(['nginx', 'sshd', 'cron', 'redis'])}"
    if r == 19:
        return f"certificate for {fqdn()} expires on {rng.choice(DAYS)} {rng.choice(MONTHS)} {rng.randrange(1, 29)} {clock()} UTC 2027"
    if r == 20:
        return f"worker {rng.randrange(16)} processed batch #{rng.randrange(10**5)} >{rng.randrange(50, 500)}ms budget"
    return f"health check {rng.choice(['passed', 'failed'])} for backend {ip4()}:{rng.choice([80, 8080])} ({rng.randrange(1, 5)} of 5)"


def line():
    r = rng.randrange(15)
    m = message()
    if r == 0:
        prog, pid = rng.choice(PROGS)
        tag = f"{prog}[{rng.randrange(1, 65536)}]" if pid else prog
        return f"{rng.choice(MONTHS)} {rng.randrange(1, 29):2d} {clock()} {rng.choice(HOSTS)} {tag}: {m}"
    if r == 1:
        return f"<{rng.randrange(8, 191)}>1 {iso()} {rng.choice(HOSTS)} {rng.choice(['app', 'api', 'worker'])} {rng.randrange(1, 65536)} ID{rng.randrange(100)} - {m}"
    if r == 2:
        return f"{iso(' ', 3, '').replace('.', ',')} {rng.choice(LEVELS):5} [{rng.choice(['main', 'http-nio-8080-exec-' + str(rng.randrange(1, 20)), 'pool-1-thread-' + str(rng.randrange(1, 9))])}] {rng.choice(LOGGERS)} - {m}"
    if r == 3:
        return f"{iso(' ', 3, '').replace('.', ',')} - {rng.choice(['app.api', 'app.db', 'scheduler'])} - {rng.choice(['INFO', 'WARNING', 'ERROR'])} - {m}"
    if r == 4:
        return f"{rng.choice('IWE')}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d} {clock()}.{rng.randrange(10**6):06d} {rng.randrange(1, 99999):6d} {rng.choice(['server.cc', 'raft.go', 'shard.cc'])}:{rng.randrange(1, 900)}] {m}"
    if r == 5:
        return f"{iso(' ', 0, '').replace('-', '/')} {m}"
    if r == 6:
        return f"{iso(' ', 3, ' UTC')} [{rng.randrange(100, 99999)}] {rng.choice(['LOG', 'ERROR', 'WARNING'])}:  {m}"
    if r == 7:
        return f"{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} {clock()}.{rng.randrange(1000):03d} {rng.randrange(100, 30000):5d} {rng.randrange(100, 30000):5d} {rng.choice('VDIWE')} {rng.choice(['ActivityManager', 'WifiService', 'PowerManager'])}: {m}"
    if r == 8:
        return f"[{rng.choice(DAYS)} {rng.choice(MONTHS)} {rng.randrange(1, 29):02d} {clock()} 2026] [{rng.choice(['error', 'notice', 'warn'])}] [client {ip4()}] {m}"
    if r == 9:
        return (f'{ip4()} - {rng.choice(["-", rng.choice(USERS)])} [{rng.randrange(1, 29):02d}/{rng.choice(MONTHS)}/2026:{clock()} +0000] '
                f'"{rng.choice(["GET", "POST", "HEAD"])} /{rng.choice(["img", "api/v2/cart", "assets"])}/{rng.randrange(10**5)} HTTP/{rng.choice(["1.0", "1.1", "2.0"])}" '
                f'{rng.choice([200, 301, 404, 500])} {rng.randrange(10**6)} "https://{fqdn()}/" "{rng.choice(["Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Wget/1.21", "python-requests/2.31.0"])}"')
    if r == 10:
        q = m.replace('"', "'")
        return f'{{"ts":"{iso()}","level":"{rng.choice(["info", "warn", "error"])}","msg":"{q}","trace_id":"{hexs(32)}"}}'
    if r == 11:
        q = m.replace('"', "'")
        return f'time={iso()} level={rng.choice(["info", "warn", "error"])} msg="{q}" duration={dur()}'
    if r == 12:
        exc = rng.choice(["java.lang.IllegalStateException", "java.io.IOException", "java.util.concurrent.TimeoutException"])
        if rng.randrange(2):
            return f"{exc}: {m}"
        cls = rng.choice(LOGGERS)
        return f"\tat {cls}.{rng.choice(['handle', 'run', 'apply'])}({cls.rsplit('.', 1)[1]}.java:{rng.randrange(20, 900)})"
    if r == 13:
        return f"{iso()} {rng.choice(LEVELS)} {m}"
    return m


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    out = sys.stdout
    for _ in range(n):
        out.write(line() + "\n")


if __name__ == "__main__":
    main()

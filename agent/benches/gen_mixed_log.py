#!/usr/bin/env python3
"""Writes a deterministic mixed log (syslog, nginx access, application) to stdout.

Usage: gen_mixed_log.py [LINES]   (default 1,000,000; seed fixed, so the file is reproducible)
"""
import random
import sys

rng = random.Random(42)
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
HOSTS = [f"web-{i}" for i in range(1, 9)] + ["db-1", "db-2", "cache-1"]
USERS = ["root", "deploy", "ubuntu", "admin", "git", "backup", "alice", "bob"]
PATHS = ["/api/v1/users/{}", "/api/v1/orders/{}", "/static/js/app.{}.js", "/healthz",
         "/api/v1/search?q=item{}", "/login", "/api/v2/carts/{}/items", "/metrics"]
AGENTS = ['"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"',
          '"curl/8.5.0"', '"kube-probe/1.29"', '"Go-http-client/1.1"']
SERVICES = ["order.Service", "payment.Gateway", "inventory.Sync", "auth.TokenStore", "mail.Sender"]


def ip():
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def hexid(n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def uuid():
    h = hexid(32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def syslog_ts():
    return f"{rng.choice(MONTHS)} {rng.randrange(1, 29):2d} {rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"


def iso_ts():
    return (f"2026-11-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:"
            f"{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z")


def syslog():
    host = rng.choice(HOSTS)
    pid = rng.randrange(300, 65000)
    k = rng.randrange(8)
    if k == 0:
        msg = f"sshd[{pid}]: Accepted publickey for {rng.choice(USERS)} from {ip()} port {rng.randrange(1024, 65535)} ssh2: RSA SHA256:{hexid(43)}"
    elif k == 1:
        msg = f"sshd[{pid}]: Failed password for invalid user {rng.choice(USERS)}{rng.randrange(100)} from {ip()} port {rng.randrange(1024, 65535)} ssh2"
    elif k == 2:
        msg = f"sshd[{pid}]: pam_unix(sshd:session): session closed for user {rng.choice(USERS)}"
    elif k == 3:
        msg = f"CRON[{pid}]: ({rng.choice(USERS)}) CMD (run-parts /etc/cron.hourly)"
    elif k == 4:
        msg = f"kernel: [{rng.randrange(100000)}.{rng.randrange(1000000):06d}] EXT4-fs (sda{rng.randrange(1, 4)}): mounted filesystem with ordered data mode. Opts: (null)"
    elif k == 5:
        msg = f"systemd[1]: Started Session {rng.randrange(1, 5000)} of user {rng.choice(USERS)}."
    elif k == 6:
        msg = f"kernel: [{rng.randrange(100000)}.{rng.randrange(1000000):06d}] TCP: request_sock_TCP: Possible SYN flooding on port {rng.randrange(1, 65535)}. Sending cookies."
    else:
        msg = f"systemd[1]: {rng.choice(['nginx', 'postgresql', 'redis-server', 'cron'])}.service: Main process exited, code=exited, status={rng.randrange(4)}/FAILURE"
    return f"{syslog_ts()} {host} {msg}"


def nginx():
    path = rng.choice(PATHS).format(rng.randrange(1, 100000))
    method = rng.choice(["GET", "GET", "GET", "POST", "PUT", "DELETE"])
    status = rng.choice([200, 200, 200, 201, 204, 301, 404, 500, 502])
    return (f'{ip()} - - [{rng.randrange(1, 29):02d}/Nov/2026:{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d} +0000] '
            f'"{method} {path} HTTP/1.1" {status} {rng.randrange(0, 200000)} "-" {rng.choice(AGENTS)} {rng.random():.3f}')


def app():
    svc = rng.choice(SERVICES)
    thread = f"worker-{rng.randrange(16)}"
    k = rng.randrange(7)
    if k == 0:
        msg = f"INFO  [{thread}] {svc} - processed order id={uuid()} items={rng.randrange(1, 20)} total={rng.random() * 500:.2f} in {rng.randrange(1, 900)}ms"
    elif k == 1:
        msg = f"WARN  [{thread}] {svc} - slow query took {rng.randrange(1, 30)}.{rng.randrange(10)}s rows={rng.randrange(100000)} table=orders_{rng.randrange(12)}"
    elif k == 2:
        msg = f"ERROR [{thread}] {svc} - connection to {ip()}:5432 timed out after {rng.choice([1000, 5000, 30000])}ms (attempt {rng.randrange(1, 6)}/5)"
    elif k == 3:
        msg = f"INFO  [{thread}] {svc} - cache hit ratio {rng.random():.4f} over {rng.randrange(1000, 90000)} requests"
    elif k == 4:
        msg = f"DEBUG [{thread}] {svc} - request {hexid(16)} user={rng.choice(USERS)} path=/var/data/{rng.choice(USERS)}/{hexid(8)}.json"
    elif k == 5:
        msg = f"INFO  [{thread}] {svc} - scheduled job {rng.choice(['cleanup', 'reindex', 'report'])} next run in {rng.randrange(1, 60)}m"
    else:
        msg = f"ERROR [{thread}] {svc} - payment {uuid()} declined: code={rng.choice(['insufficient_funds', 'expired_card', 'fraud_suspected'])}"
    return f"{iso_ts()} {msg}"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    out = sys.stdout
    kinds = [syslog, nginx, nginx, app, app]
    buf = []
    for _ in range(n):
        buf.append(rng.choice(kinds)())
        if len(buf) >= 10000:
            out.write("\n".join(buf) + "\n")
            buf.clear()
    if buf:
        out.write("\n".join(buf) + "\n")


if __name__ == "__main__":
    main()

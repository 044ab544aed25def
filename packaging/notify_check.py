#!/usr/bin/env python3
"""Runs a command the way systemd runs seismo's Type=notify unit and checks its sd_notify
messages: READY=1 after start, WATCHDOG=1 at least twice within 3 s with WATCHDOG_USEC=2 s,
RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 and exit status 0 on SIGTERM.

    python3 packaging/notify_check.py [--user NAME] -- COMMAND...

With --user (as root) the command runs as that user with its groups, as `User=` would, and
with STATE_DIRECTORY=/var/lib/NAME as `StateDirectory=` would. Exit 0 when every check passed.
"""

import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
import time


def main():
    args = sys.argv[1:]
    user = None
    if args[:1] == ["--user"]:
        user, args = args[1], args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit(__doc__)

    tmp = tempfile.mkdtemp(prefix="seismo-notify-")
    os.chmod(tmp, 0o755)
    path = os.path.join(tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o777)

    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="2000000")
    env.pop("WATCHDOG_PID", None)
    cmd = list(args)
    if user:
        env["STATE_DIRECTORY"] = f"/var/lib/{user}"
        env["HOME"] = pwd.getpwnam(user).pw_dir
        cmd = ["setpriv", "--reuid", user, "--regid", user, "--init-groups", "--"] + cmd
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    messages = []

    def wait_for(wanted, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = sock.recv(4096).decode()
            except socket.timeout:
                break
            lines = data.splitlines()
            messages.append(lines)
            if wanted in lines:
                return True
            if proc.poll() is not None:
                return False
        return False

    ok = True

    def check(cond, what):
        nonlocal ok
        print(f"notify_check: {'ok  ' if cond else 'FAIL'} {what}", file=sys.stderr)
        ok = ok and cond

    try:
        check(wait_for("READY=1", 60), "READY=1 after start")
        start = time.monotonic()
        first = wait_for("WATCHDOG=1", 3)
        second = first and wait_for("WATCHDOG=1", 3)
        check(second, f"two WATCHDOG=1 within {time.monotonic() - start:.1f} s (WATCHDOG_USEC=2 s)")
        proc.send_signal(signal.SIGHUP)
        check(wait_for("RELOADING=1", 10), "RELOADING=1 on SIGHUP")
        check(wait_for("READY=1", 10), "READY=1 after the reload")
        proc.send_signal(signal.SIGTERM)
        check(wait_for("STOPPING=1", 10), "STOPPING=1 on SIGTERM")
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, f"exit status 0 after SIGTERM (got {rc})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
        os.unlink(path)
        os.rmdir(tmp)
    if not ok:
        print(f"notify_check: messages received: {messages}", file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

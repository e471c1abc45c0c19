"""The processes `kefu run` supervises, seen from outside: their pids, whether
they are alive and serving, and requests waiting for a stopped one."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.support.scaled_stack import http


def service_pids(pid_file: Path) -> dict:
    return {name: int(pid) for name, pid in (line.split() for line in pid_file.read_text().splitlines())}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited but is not reaped yet: count it as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pids, timeout: float = 40) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.5)
    return [p for p in pids if alive(p)]


def pending_request_to(port: int) -> bool:
    """A connection to port with bytes its server has not read: a request
    that is waiting for a stopped process."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if int(local.rsplit(":", 1)[1], 16) == port and state == "01" and int(queues.split(":")[1], 16) > 0:
                return True
    return False


def serving(url: str) -> bool:
    try:
        return http("GET", f"{url}/health", timeout=5)[0] == 200
    except OSError:
        return False

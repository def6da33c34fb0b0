"""``infolit serve --workers N``: one SO_REUSEPORT socket per worker, supervised by the parent."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from web import workers

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not workers.available(), reason="SO_REUSEPORT balancing is Linux only")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ask(sock: socket.socket) -> int:
    """One keep-alive GET on ``sock``; the pid of the worker that answered."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return int(data.split(b"\r\n\r\n", 1)[1])


def _connect(port: int, timeout: float = 30.0) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _start(port: int, n: int) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "web.workers", "tests.web.pid_app:app", "--port", str(port), "--workers", str(n)]
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_connections_are_spread_over_the_workers_and_a_dead_worker_is_replaced() -> None:
    port = _free_port()
    proc = _start(port, 2)
    try:
        with _connect(port) as first:  # the first worker listens
            _ask(first)
        deadline = time.monotonic() + 30
        seen: collections.Counter[int] = collections.Counter()
        conns: list[socket.socket] = []
        while len(seen) < 2 and time.monotonic() < deadline:  # the second may still be starting
            for c in conns:
                c.close()
            conns = [_connect(port) for _ in range(64)]  # a burst, as when a class logs in at once
            seen = collections.Counter(_ask(c) for c in conns)
        assert len(seen) == 2, seen
        assert min(seen.values()) >= 12, seen  # even by hash; the shared-socket race gave 370:140
        assert collections.Counter(_ask(c) for c in conns) == seen  # a connection stays with its worker
        for c in conns:
            c.close()

        victim = next(iter(seen))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        pids: set[int] = set()
        while time.monotonic() < deadline:
            try:
                with _connect(port) as c:
                    pids.add(_ask(c))
            except ConnectionError:  # queued on the dead worker's socket when it died
                pass
            if len(pids - set(seen)) >= 1:
                break
            time.sleep(0.05)
        assert pids - set(seen), "no replacement worker answered"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


def test_a_taken_port_is_a_clear_error_and_nothing_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _start(port, 2)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert b"cannot serve on 127.0.0.1:%d" % port in err


def test_a_worker_that_cannot_start_stops_the_run() -> None:
    port = _free_port()
    args = [sys.executable, "-m", "web.workers", "tests.web.no_such_module:app", "--port", str(port), "--workers", "2"]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, timeout=90)
    assert proc.returncode == 1
    assert b"could not start" in proc.stderr

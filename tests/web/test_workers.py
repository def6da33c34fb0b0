"""``infolit serve --workers N``: one SO_REUSEPORT socket per worker, supervised by the parent."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import threading
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


def _request(port: int, path: str) -> tuple[float, float, int]:
    """One GET on a new connection: (sent, answered, pid of the worker); raises on a reset or refusal."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sent = time.monotonic()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(f"unexpected answer {head[:40]!r}")
    return sent, time.monotonic(), int(body)


class _Load:
    """Requests to ``path`` from ``n`` threads until stopped; every outcome is kept."""

    def __init__(self, port: int, path: str, n: int = 12) -> None:
        self.port, self.path = port, path
        self.done: list[tuple[float, float, int]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(n)]
        for t in self._threads:
            t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.done.append(_request(self.port, self.path))
            except OSError as exc:  # a reset, a refusal, a closed connection
                self.failures.append(f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)


def _pids_answering(port: int, want: int, timeout: float = 30) -> set[int]:
    deadline = time.monotonic() + timeout
    pids: set[int] = set()
    while len(pids) < want and time.monotonic() < deadline:
        try:
            pids |= {_request(port, "/")[2] for _ in range(16)}
        except OSError:
            time.sleep(0.1)
    return pids


def test_a_worker_told_to_stop_finishes_its_requests_and_nothing_is_reset() -> None:
    port = _free_port()
    proc = _start(port, 2)
    try:
        assert len(_pids_answering(port, 2)) == 2
        load = _Load(port, "/block?0.3", n=24)
        time.sleep(1.5)
        victim = collections.Counter(pid for _, _, pid in load.done).most_common(1)[0][0]
        terminated = time.monotonic()
        os.kill(victim, signal.SIGTERM)
        time.sleep(4.0)
        load.stop()
        assert not load.failures, load.failures[:5]
        drained = [d for d in load.done if d[2] == victim and d[0] < terminated < d[1]]
        assert drained, "the stopped worker held requests and answered them"
        after = {pid for sent, _, pid in load.done if sent > terminated + 0.7}
        assert after and victim not in after  # later requests went to the others and the replacement
        assert len(after) == 2  # the slot's socket kept its queue for the replacement
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


def test_sighup_restarts_every_worker_without_dropping_a_connection() -> None:
    port = _free_port()
    proc = _start(port, 2)
    try:
        before = _pids_answering(port, 2)
        assert len(before) == 2
        load = _Load(port, "/slow?0.3")
        time.sleep(1.0)
        hup = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        switched = None
        while switched is None and time.monotonic() < deadline:
            time.sleep(0.2)
            now = time.monotonic()
            recent = {pid for sent, _, pid in list(load.done) if sent > now - 1.0}
            if recent and not recent & before:
                switched = now
        time.sleep(1.0)
        load.stop()
        assert not load.failures, load.failures[:5]
        assert switched is not None, "the old workers still answer a minute after SIGHUP"
        later = {pid for sent, _, pid in load.done if sent > switched}
        assert len(later) == 2 and not later & before, (before, later)  # every worker is new
        assert any(pid in before and answered > hup for _, answered, pid in load.done)  # the old ones drained
        assert proc.poll() is None  # the parent, holding the sockets, never stopped
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()

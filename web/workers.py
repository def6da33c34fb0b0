"""Several uvicorn workers, each with a listening socket of its own (``SO_REUSEPORT``), held by the parent.

uvicorn's own ``--workers`` binds one socket in the parent and hands it to every worker, so the
workers race to accept on one queue. A worker that wakes first takes a whole burst of connections
(a class logging in at once): we measured 370 against 140 of 500 connections, and long-lived
keep-alive connections keep that imbalance for the whole test. Here there is one socket per worker
slot, all bound to the same address with ``SO_REUSEPORT``, and the kernel spreads new connections
evenly over them (by a hash of the client's address and port). With two workers on two cores this
took the load test from about 1,250 to about 1,750 answers per second.

The parent binds and listens on every slot's socket itself and keeps them open for the whole run;
each worker gets its slot's socket. So a socket never closes while InfoLit serves: when a worker
stops or dies, the connections the kernel has queued on its socket wait there for the worker that
replaces it, instead of being reset (a socket that closes drops its queue).

Signals to the parent:

- SIGTERM, SIGINT: stop. Every worker gets SIGTERM and drains: it stops accepting, finishes the
  requests it holds (closing idle keep-alive connections), and exits; one still busy after
  ``_GRACE_SECONDS`` is killed.
- SIGHUP: rolling restart (new code, new settings). Slot by slot, a new worker starts on the slot's
  socket; once it serves, the old one is told to drain. The socket stays open throughout, so no
  connection is refused or reset.

A worker that dies while serving is replaced on the same socket. A worker that fails before it
serves (the app cannot be imported) stops the whole run, as restarting it would fail the same way.

Workers are forked from a multiprocessing *forkserver* that has imported uvicorn and the app's
module once: a fresh interpreter takes 5 to 7 seconds to import InfoLit on this 2-core machine
under load, which is how long the connections queued on a dead worker's socket would wait for its
replacement; forked from the preloaded server, a replacement serves within about a second. (The
forkserver is a process of its own with no threads, so forking it is safe, unlike forking the
supervisor.)

Linux only (elsewhere ``SO_REUSEPORT`` does not balance); :func:`available` says whether it applies.

    python -m web.workers web.app:create_app --factory --host 127.0.0.1 --port 8000 --workers 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

__all__ = ["WorkerOptions", "available", "main", "serve"]

_STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start
_GRACE_SECONDS = 30.0
_READY_SECONDS = 120.0  # how long a new worker of a rolling restart may take to serve
_SETTLE_SECONDS = 0.5  # after a worker stops accepting, for requests already on their way to arrive


@dataclass(frozen=True)
class WorkerOptions:
    """What every worker runs: an ASGI app (import string) and uvicorn's settings for it."""

    app: str
    host: str = "127.0.0.1"
    port: int = 8000
    factory: bool = False
    proxy_headers: bool = True
    backlog: int = 2048
    timeout_keep_alive: int = 5
    log_level: str = "warning"


def available() -> bool:
    """Whether the kernel balances connections over ``SO_REUSEPORT`` sockets (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening ``SO_REUSEPORT`` socket on ``host:port``."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[
        0
    ]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def _worker(options: WorkerOptions, sock: socket.socket, ready: Any) -> None:  # pragma: no cover - a child
    import asyncio

    import uvicorn

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the parent owns SIGHUP (a rolling restart)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                ready.set()

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # Stop accepting first, then let the requests already sent on accepted connections
            # arrive: uvicorn closes at once every connection whose request it has not read yet,
            # and closing a socket with unread bytes resets it.
            for server in self.servers:
                server.close()
            for sock in sockets or []:
                sock.close()  # this process's copy; the parent keeps the socket and its queue
            await asyncio.sleep(_SETTLE_SECONDS)
            await super().shutdown(sockets=[])

    config = uvicorn.Config(
        options.app,
        factory=options.factory,
        host=options.host,
        port=options.port,
        proxy_headers=options.proxy_headers,
        backlog=options.backlog,
        timeout_keep_alive=options.timeout_keep_alive,
        access_log=False,
        log_level=options.log_level,
    )
    server = Server(config)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(_STARTUP_FAILURE)


@dataclass
class _Slot:
    """One listening socket and the worker serving it (plus, during a restart, its successor)."""

    sock: socket.socket
    process: BaseProcess | None = None
    ready: Any = None
    draining: list[tuple[BaseProcess, float]] = field(default_factory=list)


class _Supervisor:
    """Starts, watches, restarts and stops the workers of :func:`serve`."""

    def __init__(self, options: WorkerOptions, sockets: Sequence[socket.socket]) -> None:
        self.options = options
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(["uvicorn", "uvicorn.server", options.app.split(":", 1)[0]])
        self.slots = [_Slot(sock) for sock in sockets]
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.code = 0

    def start(self, slot: _Slot) -> tuple[BaseProcess, Any]:
        ready = self.context.Event()
        process = self.context.Process(
            target=_worker, args=(self.options, slot.sock, ready), name="infolit-worker", daemon=False
        )
        process.start()
        return process, ready

    def replace_dead(self) -> None:
        for slot in self.slots:
            process = slot.process
            if process is None or process.is_alive():
                continue
            if process.exitcode == _STARTUP_FAILURE:
                print(f"worker {process.pid} could not start; stopping", file=sys.stderr)
                self.stop.set()
                self.code = 1
                return
            print(f"worker {process.pid} exited ({process.exitcode}); starting another", file=sys.stderr)
            slot.process, slot.ready = self.start(slot)

    def roll(self) -> None:
        """Rolling restart: per slot, start a new worker, wait until it serves, then drain the old one."""
        for slot in self.slots:
            if self.stop.is_set():
                return
            new, ready = self.start(slot)
            deadline = time.monotonic() + _READY_SECONDS
            while not ready.wait(0.2):
                if not new.is_alive() or time.monotonic() > deadline or self.stop.is_set():
                    print("a new worker did not start; the old ones keep serving", file=sys.stderr)
                    if new.is_alive():
                        new.kill()
                    new.join()
                    return
            old, slot.process, slot.ready = slot.process, new, ready
            if old is not None and old.is_alive():
                old.terminate()  # SIGTERM: it finishes what it holds; its socket stays open here
                slot.draining.append((old, time.monotonic() + _GRACE_SECONDS))

    def reap(self) -> None:
        for slot in self.slots:
            for entry in list(slot.draining):
                process, deadline = entry
                if not process.is_alive():
                    process.join()
                    slot.draining.remove(entry)
                elif time.monotonic() > deadline:
                    process.kill()

    def shutdown(self) -> None:
        everyone = [p for slot in self.slots for p in [slot.process, *(d for d, _ in slot.draining)] if p is not None]
        for process in everyone:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        deadline = time.monotonic() + _GRACE_SECONDS
        for process in everyone:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def serve(options: WorkerOptions, workers: int) -> int:
    """Run ``workers`` worker processes until SIGINT/SIGTERM; return the exit code (0: stopped).

    SIGHUP restarts the workers one by one without closing the listening sockets.

    Raises
    ------
    OSError
        The address cannot be listened on (taken by another program, or not this machine's).
    """
    if not available():  # pragma: no cover - Linux is where InfoLit is deployed and tested
        raise OSError("SO_REUSEPORT load balancing needs Linux; use uvicorn's own --workers")
    sockets: list[socket.socket] = []
    try:
        for _ in range(workers):
            sockets.append(_socket(options.host, options.port, options.backlog))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    supervisor = _Supervisor(options, sockets)

    def on_stop(signum: int, _frame: Any) -> None:
        supervisor.stop.set()

    def on_reload(signum: int, _frame: Any) -> None:
        supervisor.reload.set()

    previous = {sig: signal.signal(sig, on_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_reload)
    try:
        for slot in supervisor.slots:
            slot.process, slot.ready = supervisor.start(slot)
        while not supervisor.stop.wait(0.2):
            supervisor.replace_dead()
            if supervisor.reload.is_set():
                supervisor.reload.clear()
                supervisor.roll()
            supervisor.reap()
    finally:
        supervisor.shutdown()
        for sock in sockets:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return supervisor.code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m web.workers APP [--factory] [--host] [--port] [--workers] ...``."""
    parser = argparse.ArgumentParser(description="uvicorn workers, one SO_REUSEPORT socket each")
    parser.add_argument("app", help="module:attribute of the ASGI app (or of its factory with --factory)")
    parser.add_argument("--factory", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backlog", type=int, default=2048)
    parser.add_argument("--timeout-keep-alive", type=int, default=5)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--no-proxy-headers", action="store_true")
    args = parser.parse_args(argv)
    options = WorkerOptions(
        app=args.app,
        host=args.host,
        port=args.port,
        factory=args.factory,
        proxy_headers=not args.no_proxy_headers,
        backlog=args.backlog,
        timeout_keep_alive=args.timeout_keep_alive,
        log_level=args.log_level,
    )
    try:
        return serve(options, max(1, args.workers))
    except OSError as exc:
        print(f"cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

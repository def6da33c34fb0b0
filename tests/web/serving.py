"""Serving the app for the browser tests: uvicorn in a subprocess on a free loopback port, and Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(factory: str, env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Run ``uvicorn FACTORY --factory`` with ``env`` added to the environment; yield its base URL."""
    port = free_port()
    log = log_path.open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            factory,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(log_path.read_text())
            time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@contextmanager
def serve_console(database_url: str, tmp_path: Path, secret: str) -> Iterator[str]:
    """The console app (``tests/web/console_app.py``, with its job consumer) over ``database_url``; its base URL."""
    env = {"INFOLIT_DATABASE_URL": database_url, "INFOLIT_DATA_DIR": str(tmp_path / "data")}
    env["INFOLIT_SECRET_KEY"] = secret
    with serve("tests.web.console_app:create_console_app", env, tmp_path / "server.log") as base:
        yield base


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright (the test is skipped, saying why, without either)."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed (apt-get install chromium); browser tests skipped")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()

"""A bare ASGI app that answers with its process id (for tests/web/test_workers.py).

``GET /slow?S`` waits ``S`` seconds (default 1) before it answers, so a test can have requests in
flight when a worker is told to stop; ``GET /block?S`` waits blocking the worker's event loop, so
new connections queue in the kernel meanwhile (as behind a busy worker).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer any HTTP request with this worker's pid; ignore lifespan events."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/slow":
        await asyncio.sleep(float(scope["query_string"] or b"1"))
    elif scope["path"] == "/block":
        time.sleep(float(scope["query_string"] or b"1"))  # blocking on purpose
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})

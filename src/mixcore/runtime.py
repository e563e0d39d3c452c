"""One event loop per warm container for the synchronous handlers, so their pools outlive an invocation.

The indexer's handler is synchronous; it hands its coroutine to a loop that runs in a daemon thread
for the life of the process. (The chat function is an ASGI app: uvicorn's loop serves it.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def event_loop() -> asyncio.AbstractEventLoop:
    """The process's background event loop, started on first use."""
    global _loop
    if _loop is None:
        with _lock:
            if _loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="mixcore-loop", daemon=True)
                thread.start()
                _loop = loop
    return _loop


def run[T](coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the shared loop and wait for its result from any thread."""
    return asyncio.run_coroutine_threadsafe(coro, event_loop()).result()

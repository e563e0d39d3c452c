"""One event loop per warm container, so the pooled httpx client outlives a single invocation.

Lambda handlers are synchronous; they hand their coroutine to a loop that runs in a daemon
thread for the life of the process. The same loop serves the threads of the local HTTP stack,
so concurrent local requests share one connection pool exactly as warm Lambdas reuse theirs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

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


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the shared loop and wait for its result from any thread."""
    return asyncio.run_coroutine_threadsafe(coro, event_loop()).result()

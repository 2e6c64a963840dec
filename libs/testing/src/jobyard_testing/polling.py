"""Waiting in tests for something that happens elsewhere (another process, a retry)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


async def eventually[T](
    check: Callable[[], T | Awaitable[T]], timeout: float = 20.0, every: float = 0.1
) -> T:
    """The first truthy result of `check` (sync or async), polled every `every` seconds;
    TimeoutError with the last result after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        if time.monotonic() >= deadline:
            raise TimeoutError(f"still {found!r} after {timeout}s")
        await asyncio.sleep(every)

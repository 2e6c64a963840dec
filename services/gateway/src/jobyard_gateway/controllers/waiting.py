"""Answering once a change another service makes shows, within a bounded wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def reread_until[T](
    current: T,
    reread: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    seconds: float,
    every: float,
) -> T:
    """`current` once `done` holds, or as it is after `seconds` (the change goes on all the
    same: the client looks again later)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not done(current) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(every)
        current = await reread()
    return current

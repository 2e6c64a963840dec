"""Creating indexes across releases: MongoDB refuses to change an existing index's options in
place, so an index a release made with other options (e.g. `unique`) is kept as it is."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

OPTIONS_CONFLICT = (85, 86)  # IndexOptionsConflict, IndexKeySpecsConflict


async def ensure_index(
    collection: AsyncCollection[dict[str, Any]], keys: list[tuple[str, int]], **options: Any
) -> None:
    try:
        await collection.create_index(keys, **options)
    except OperationFailure as exc:
        if exc.code not in OPTIONS_CONFLICT:
            raise

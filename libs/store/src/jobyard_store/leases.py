"""Leases on documents: a field holding until when one worker has a document to itself, so
another takes it up once a crashed holder's lease runs out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection


def lease_free(field: str, now: datetime) -> dict[str, Any]:
    """The query part matching documents whose lease in `field` nobody holds at `now`."""
    return {"$or": [{field: None}, {field: {"$lt": now}}]}


async def claim_first(
    collection: AsyncCollection[dict[str, Any]],
    query: dict[str, Any],
    update: dict[str, Any],
    **options: Any,
) -> dict[str, Any] | None:
    """`find_one_and_update` for a poll, which mostly finds nothing: looking first makes such
    a poll a read, not a write. None also when another worker claimed the document found in
    between (the next poll goes on)."""
    found = await collection.find_one(query, projection={"_id": True})
    if found is None:
        return None
    return await collection.find_one_and_update({"_id": found["_id"]} | query, update, **options)

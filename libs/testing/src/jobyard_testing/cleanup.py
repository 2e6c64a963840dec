"""Removing what a test namespace left in RabbitMQ.

Every namespace declares real quorum queues, dead-letter queues, a stream and two exchanges;
left behind, a few hundred quorum queues (each a Raft group) slow a small broker to a crawl.
AMQP can neither list them nor delete them quickly in bulk, so one `rabbitmqctl eval` deletes
everything whose name starts with the namespace, inside the broker, in about a second.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess

from minio.error import S3Error

from jobyard_objects import ObjectSettings, ObjectStore
from jobyard_settings import InfraSettings

# Erlang run by the broker: delete the vhost's queues and exchanges named "<prefix>...".
_DELETE_BY_PREFIX = """
P = <<"{prefix}">>,
Mine = fun(Name) -> binary:longest_common_prefix([Name, P]) =:= byte_size(P) end,
Qs = [Q || Q <- rabbit_amqqueue:list(<<"/">>), Mine(element(4, amqqueue:get_name(Q)))],
[rabbit_amqqueue:delete(Q, false, false, <<"jobyard-tests">>) || Q <- Qs],
Xs = [element(2, X) || X <- rabbit_exchange:list(<<"/">>), Mine(element(4, element(2, X)))],
[rabbit_exchange:delete(X, false, <<"jobyard-tests">>) || X <- Xs],
length(Qs).
"""


def delete_namespace_sync(namespace: str) -> int:
    """Delete every queue and exchange of a namespace; returns how many queues went."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,40}", namespace):
        raise ValueError(f"not a namespace: {namespace!r}")
    result = subprocess.run(
        ["rabbitmqctl", "-q", "eval", _DELETE_BY_PREFIX.format(prefix=f"{namespace}.")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"could not delete namespace {namespace}: {result.stderr}")
    return int(result.stdout.strip() or 0)


async def delete_namespace(namespace: str) -> int:
    return await asyncio.to_thread(delete_namespace_sync, namespace)


S3_STANDIN = "http://127.0.0.1:9000"


def empty_bucket(namespace: str) -> None:
    """Remove the objects a test session stored (the stand-in keeps them in memory)."""
    settings = ObjectSettings(endpoint=os.environ.get("S3_ENDPOINT", S3_STANDIN))
    store = ObjectStore(settings, settings.bucket_for(InfraSettings(namespace=namespace)))
    try:
        store.remove(list(store.keys()))
    except S3Error as exc:
        if exc.code != "NoSuchBucket":
            raise

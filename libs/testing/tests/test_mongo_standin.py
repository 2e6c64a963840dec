"""The MongoDB stand-in as its own process, driven by the real PyMongo client: a duplicate
`_id` is refused whatever its type, also where the stand-in checks it by storage key only."""

from collections.abc import Iterator
from typing import Any

import pytest
from bson import ObjectId
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from jobyard_testing.stack import StandInProcess, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store() -> Iterator[MongoClient[dict[str, Any]]]:
    standin = StandInProcess(free_port())
    standin.start()
    try:
        with MongoClient(standin.url) as client:
            yield client
    finally:
        standin.kill()


@pytest.fixture
def collection(
    store: MongoClient[dict[str, Any]], request: pytest.FixtureRequest
) -> Collection[dict[str, Any]]:
    collection = store["standin"][request.node.name]
    collection.insert_many([{"_id": f"filler-{n}", "n": n} for n in range(50)])
    return collection


@pytest.mark.parametrize(
    ("first", "again"),
    [("job-1:3", "job-1:3"), (ObjectId("65a1b2c3d4e5f60718293a4b"),) * 2, (1, 1.0), (2.0, 2)],
    ids=["string", "object-id", "int-then-float", "float-then-int"],
)
def test_a_duplicate_id_is_refused(
    collection: Collection[dict[str, Any]], first: Any, again: Any
) -> None:
    collection.insert_one({"_id": first, "v": 1})
    with pytest.raises(DuplicateKeyError):
        collection.insert_one({"_id": again, "v": 2})
    assert collection.find_one({"_id": first}) == {"_id": first, "v": 1}


def test_an_unordered_batch_keeps_the_new_and_reports_the_duplicate(
    collection: Collection[dict[str, Any]],
) -> None:
    with pytest.raises(BulkWriteError) as refused:
        collection.insert_many([{"_id": "filler-7"}, {"_id": "fresh"}], ordered=False)
    assert [e["code"] for e in refused.value.details["writeErrors"]] == [11000]
    assert collection.count_documents({}) == 51

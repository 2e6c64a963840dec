import asyncio

import pytest

from jobyard_scheduler.adapters.slots import SlotLedger

pytestmark = pytest.mark.integration


async def test_concurrent_claims_never_exceed_the_limit(mongo_db):
    slots = SlotLedger(mongo_db, limit=3)
    results = await asyncio.gather(*(slots.claim("u1", f"j{i}") for i in range(8)))
    assert sum(results) == 3
    assert len(await slots.held("u1")) == 3


async def test_claiming_a_held_slot_again_succeeds_without_taking_another(mongo_db):
    slots = SlotLedger(mongo_db, limit=2)
    assert await slots.claim("u1", "a")
    assert await slots.claim("u1", "a")
    assert await slots.claim("u1", "b")
    assert await slots.claim("u1", "a")
    assert not await slots.claim("u1", "c")
    await slots.release("u1", "a")
    assert await slots.claim("u1", "c")
    assert sorted(await slots.held("u1")) == ["b", "c"]


async def test_users_have_separate_slots(mongo_db):
    slots = SlotLedger(mongo_db, limit=1)
    assert await slots.claim("u1", "a")
    assert await slots.claim("u2", "b")
    assert not await slots.claim("u1", "c")

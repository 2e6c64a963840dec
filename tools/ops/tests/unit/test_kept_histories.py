"""Histories the e2e suite recorded (kept with `JOBYARD_TEST_KEEP_HISTORIES`, one of each kind of
run) still replay through today's rules: a rule change that breaks an old history fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobyard_ops.replayer import replay
from jobyard_testing.replays import load_kept

pytestmark = pytest.mark.unit

KEPT = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_of_every_kind_of_run_are_kept():
    assert len(KEPT) >= 8


@pytest.mark.parametrize("path", KEPT, ids=[p.stem for p in KEPT])
def test_a_kept_history_replays_to_its_document(path: Path):
    job, history, inputs = load_kept(path)
    assert replay(job, history, inputs).differences == []

"""Forks (`POST /v1/jobs/{id}/fork?from_seq=N`): a job answered wrongly is forked from the
event before its question; the fork does not run the done step again, finds the file that step
saved restored in a fresh sandbox, asks again and completes. The replayer check that ends the
suite folds both histories, the fork's included."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jobyard_testing.jobs import start_agent, user_client, wait_for_status, wait_until_job
from jobyard_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

STEPS = [
    {"title": "Measure", "script": "mkdir -p data && echo 'value 42' > data/a.txt; echo measured"},
    {"title": "Check", "ask": "Publish?", "choices": ["yes", "no"]},
    {"title": "Publish", "script": 'cat data/a.txt; [ "$JOBYARD_ANSWER" = yes ]'},
]


async def events(api: httpx.AsyncClient, job_id: str) -> list[dict[str, Any]]:
    answer = await api.get(f"/v1/jobs/{job_id}/events", params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


async def answer(api: httpx.AsyncClient, job_id: str, text: str) -> None:
    waiting = await wait_for_status(api, job_id, {"waiting_for_input", "failed"})
    assert waiting["status"] == "waiting_for_input", waiting
    posted = await api.post(f"/v1/jobs/{job_id}/messages", json={"text": text})
    assert posted.status_code == 201, posted.text


async def test_a_fork_from_before_a_wrong_answer_restores_the_workspace_and_completes(
    stack: Stack,
) -> None:
    async with user_client(stack, "fork") as api:
        original = await start_agent(api, instruction="Measure, check, publish", steps=STEPS)
        await answer(api, original["id"], "no")
        failed = await wait_for_status(api, original["id"])
        assert failed["status"] == "failed", failed

        history = await events(api, original["id"])
        measured = next(
            e["seq"]
            for e in history
            if e["type"] == "job.step.finished" and e["envelope"]["payload"]["step_index"] == 0
        )
        saved = [
            e["envelope"]["payload"]
            for e in history
            if e["type"] == "file.ready" and e["seq"] < measured
        ]
        assert [f["path"] for f in saved if f["kind"] == "output"] == ["data/a.txt"]

        forked = await api.post(f"/v1/jobs/{original['id']}/fork", params={"from_seq": measured})
        assert forked.status_code == 201, forked.text
        fork = forked.json()
        assert fork["id"] != original["id"]
        assert fork["forked_from"] == {
            "job_id": original["id"],
            "sequence": measured,
            "completed_steps": [0],
        }
        assert [s["status"] for s in fork["plan"]] == ["completed", "pending", "pending"]
        assert [i["path"] for i in fork["inputs"]] == ["data/a.txt"]

        await answer(api, fork["id"], "yes")
        done = await wait_for_status(api, fork["id"])
        assert done["status"] == "completed", done
        timeline = {s["title"]: s for s in done["timeline"]}
        assert "value 42" in timeline["Publish"]["output_tail"]
        output = (await api.get(f"/v1/jobs/{fork['id']}/logs")).json()
        lines = [line["text"] for line in output["lines"]]
        assert "measured" not in lines  # the done step was not run again
        assert "value 42" in lines

        # The restored file was the fork's starting point, not one of its outputs.
        await wait_until_job(api, fork["id"], lambda j: j["files"]["count"] >= 1)
        files = (await api.get(f"/v1/jobs/{fork['id']}/files")).json()["files"]
        assert "data/a.txt" not in [f["path"] for f in files if f["kind"] == "output"]
        unchanged = (await api.get(f"/v1/jobs/{original['id']}")).json()
        assert unchanged["status"] == "failed"
        assert unchanged["forked_from"] is None


async def test_forks_refuse_what_the_history_does_not_allow(stack: Stack) -> None:
    async with user_client(stack, "fork-bad") as api, user_client(stack, "fork-other") as other:
        job = await start_agent(
            api, instruction="One step", steps=[{"title": "Echo", "script": "echo hi"}]
        )
        done = await wait_for_status(api, job["id"])
        assert done["status"] == "completed", done
        last = (await events(api, job["id"]))[-1]["seq"]

        for params, field in (({"from_seq": last + 5}, "from_seq"), ({}, "from_seq")):
            refused = await api.post(f"/v1/jobs/{job['id']}/fork", params=params)
            assert refused.status_code == 422, refused.text
            assert field in refused.text
        zero = await api.post(f"/v1/jobs/{job['id']}/fork", params={"from_seq": 0})
        assert zero.status_code in (400, 422), zero.text
        assert "from_seq" in zero.text
        assert (await other.post(f"/v1/jobs/{job['id']}/fork")).status_code == 404
        assert (await api.post("/v1/jobs/job_nope/fork")).status_code == 404
        listed = (await api.get("/v1/jobs")).json()["jobs"]
        assert [j["id"] for j in listed] == [job["id"]]  # nothing half-created

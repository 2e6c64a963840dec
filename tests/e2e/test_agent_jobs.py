"""Agent jobs with explicit steps (no model): planning, steps in order with progress, questions
to the owner with the sandbox frozen meanwhile, messages, pause and cancel, one active job per
chat, three running jobs per user, and bad input that creates nothing."""

import asyncio
import json

import pytest

from jobyard_testing.containers import job_containers
from jobyard_testing.jobs import start_agent, user_client, wait_for_status, wait_until_job
from jobyard_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

COUNT_TABLE = r"""
python3 - <<'PY'
import numpy as np, pandas as pd
rng = np.random.default_rng(7)
genes = [f"gene{i}" for i in range(200)]
control = rng.poisson(100, size=(200, 3))
treated = rng.poisson(100, size=(200, 3)); treated[:20] *= 4
table = pd.DataFrame(np.hstack([control, treated]), index=genes,
                     columns=["c1", "c2", "c3", "t1", "t2", "t3"])
table.to_csv("/workspace/counts.csv")
print("wrote", table.shape)
PY
"""
ANALYSE = r"""
python3 - <<'PY'
import os, warnings; warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from scipy import stats
counts = pd.read_csv("/workspace/counts.csv", index_col=0)
log = np.log2(counts + 1)
t, p = stats.ttest_ind(log[["t1", "t2", "t3"]], log[["c1", "c2", "c3"]], axis=1)
fold = log[["t1", "t2", "t3"]].mean(axis=1) - log[["c1", "c2", "c3"]].mean(axis=1)
results = pd.DataFrame({"log2_fold_change": fold, "p_value": p}).sort_values("p_value")
results.to_csv("/workspace/results.csv")
print("significant:", int((results.p_value < 0.01).sum()),
      "contrast:", os.environ["JOBYARD_ANSWER"])
PY
"""
PLOT = r"""
python3 - <<'PY'
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt, numpy as np, pandas as pd
r = pd.read_csv("/workspace/results.csv", index_col=0)
plt.scatter(r.log2_fold_change, -np.log10(r.p_value), s=4)
plt.savefig("/workspace/volcano.png"); print("plotted", len(r), "genes")
PY
"""


def container_paused(stack: Stack, job_id: str) -> bool:
    return list(job_containers(stack.namespace, job_id).values()) == ["paused"]


async def test_a_multi_step_agent_job_plans_runs_in_order_asks_and_completes(stack: Stack) -> None:
    async with user_client(stack, "agent-steps") as api:
        job = await start_agent(
            api,
            instruction="Differential expression on a small count table; results CSV and plot",
            chat_id="chat-steps",
            steps=[
                {"title": "Generate a count table", "script": COUNT_TABLE},
                {
                    "title": "Choose the contrast",
                    "ask": "Which contrast?",
                    "choices": ["t-c", "c-t"],
                },
                {"title": "Test each gene", "script": ANALYSE},
                {"title": "Volcano plot", "script": PLOT},
            ],
        )
        assert job["kind"] == "agent"
        assert job["planner"] == "steps"
        assert job["title"].startswith("Differential expression")
        assert job["progress"] == {"current_step": None, "completed_steps": 0, "total_steps": 4}

        waiting = await wait_for_status(api, job["id"], {"waiting_for_input", "failed"})
        assert waiting["status"] == "waiting_for_input", waiting
        assert waiting["prompt"]["question"] == "Which contrast?"
        assert waiting["prompt"]["choices"] == ["t-c", "c-t"]
        assert waiting["progress"]["completed_steps"] == 1
        assert [s["title"] for s in waiting["timeline"]] == ["Generate a count table"]
        # No execution time is spent waiting: the sandbox is frozen until the answer.
        frozen = await wait_until_job(api, job["id"], lambda j: j["paused"] is not None)
        assert frozen["paused"]["reason"] == "waiting for input"
        assert frozen["status"] == "waiting_for_input"
        assert container_paused(stack, job["id"])

        answer = await api.post(f"/v1/jobs/{job['id']}/messages", json={"text": "t-c"})
        assert answer.status_code == 201, answer.text
        assert answer.json()["reply_to"] == waiting["prompt"]["id"]

        done = await wait_for_status(api, job["id"])
        assert done["status"] == "completed", done
        assert done["progress"] == {"current_step": None, "completed_steps": 4, "total_steps": 4}
        assert [s["status"] for s in done["plan"]] == ["completed"] * 4
        timeline = {s["title"]: s for s in done["timeline"]}
        assert "wrote (200, 6)" in timeline["Generate a count table"]["output_tail"]
        assert timeline["Choose the contrast"]["output_tail"] == "t-c"
        assert "contrast: t-c" in timeline["Test each gene"]["output_tail"]
        assert "significant:" in timeline["Test each gene"]["output_tail"]
        assert "plotted 200 genes" in timeline["Volcano plot"]["output_tail"]
        assert all(s["duration_seconds"] is not None for s in done["timeline"])
        assert not container_paused(stack, job["id"])
        assert (
            done["sandbox"]["session_used_seconds"]
            < ((await api.get(f"/v1/jobs/{job['id']}")).json()["duration_seconds"])
        )

        listed = await api.get("/v1/jobs", params={"kind": "agent", "chat_id": "chat-steps"})
        assert [j["id"] for j in listed.json()["jobs"]] == [job["id"]]
        assert (await api.get("/v1/jobs", params={"kind": "script"})).json()["jobs"] == []


async def test_messages_are_kept_in_order_and_a_finished_job_takes_none(stack: Stack) -> None:
    async with user_client(stack, "agent-messages") as api:
        job = await start_agent(
            api,
            instruction="Wait a little",
            steps=[{"title": "Wait", "script": "sleep 2; echo waited"}],
        )
        first = await api.post(f"/v1/jobs/{job['id']}/messages", json={"text": "hello"})
        second = await api.post(f"/v1/jobs/{job['id']}/messages", json={"text": "still there?"})
        assert first.status_code == second.status_code == 201
        thread = (await api.get(f"/v1/jobs/{job['id']}/messages")).json()["messages"]
        assert [(m["role"], m["text"]) for m in thread] == [
            ("user", "hello"),
            ("user", "still there?"),
        ]
        not_pending = await api.post(
            f"/v1/jobs/{job['id']}/messages", json={"text": "x", "reply_to": "prompt-0"}
        )
        assert not_pending.status_code == 409, not_pending.text
        assert "not pending" in not_pending.json()["detail"]
        done = await wait_for_status(api, job["id"])
        assert done["status"] == "completed"
        assert [m["text"] for m in done["messages"]] == ["hello", "still there?"]
        late = await api.post(f"/v1/jobs/{job['id']}/messages", json={"text": "too late"})
        assert late.status_code == 409
        assert "already completed" in late.json()["detail"]


async def test_pause_while_a_step_runs_then_resume_and_cancel_while_waiting(stack: Stack) -> None:
    async with user_client(stack, "agent-pause") as api:
        job = await start_agent(
            api,
            instruction="Count, then ask",
            steps=[
                {"title": "Count", "script": "for i in 1 2 3 4 5 6; do echo $i; sleep 0.5; done"},
                {"title": "Ask", "ask": "Go on?"},
                {"title": "Never", "script": "echo never"},
            ],
        )
        await wait_until_job(
            api,
            job["id"],
            lambda j: j["status"] == "running" and j["progress"]["current_step"] == 0,
        )
        paused = await api.post(f"/v1/jobs/{job['id']}/pause")
        assert paused.json()["status"] == "paused", paused.text
        await asyncio.sleep(1.5)
        resumed = await api.post(f"/v1/jobs/{job['id']}/resume")
        assert resumed.json()["status"] in ("running", "waiting_for_input"), resumed.text
        waiting = await wait_for_status(api, job["id"], {"waiting_for_input", "failed"})
        assert waiting["status"] == "waiting_for_input"
        assert waiting["timeline"][0]["output_tail"].split() == ["1", "2", "3", "4", "5", "6"]

        cancelled = await api.post(f"/v1/jobs/{job['id']}/cancel")
        assert cancelled.json()["status"] == "cancelled", cancelled.text
        assert cancelled.json()["prompt"] is None or cancelled.json()["status"] == "cancelled"
        late = await api.post(f"/v1/jobs/{job['id']}/messages", json={"text": "yes"})
        assert late.status_code == 409
        final = (await api.get(f"/v1/jobs/{job['id']}")).json()
        assert final["status"] == "cancelled"
        assert final["plan"][2]["status"] == "pending"


async def test_one_active_job_per_chat_under_concurrent_starts(stack: Stack) -> None:
    async with user_client(stack, "agent-chat") as api:
        body = {
            "kind": "agent",
            "instruction": "Sleep",
            "chat_id": "chat-1",
            "steps": [{"title": "Sleep", "script": "sleep 3"}],
        }
        answers = await asyncio.gather(*(api.post("/v1/jobs", json=body) for _ in range(6)))
        created = [a.json() for a in answers if a.status_code == 201]
        refused = [a for a in answers if a.status_code != 201]
        assert len(created) == 1, [a.text for a in answers]
        assert {a.status_code for a in refused} == {409}
        assert all(created[0]["id"] in a.json()["detail"] for a in refused)
        listed = (await api.get("/v1/jobs", params={"chat_id": "chat-1"})).json()["jobs"]
        assert len(listed) == 1  # nothing half-created by the refused starts
        other_chat = await api.post("/v1/jobs", json={**body, "chat_id": "chat-2"})
        assert other_chat.status_code == 201
        await wait_for_status(api, created[0]["id"])
        again = await api.post("/v1/jobs", json=body)  # the chat's job is over: a new one
        assert again.status_code == 201, again.text
        await wait_for_status(api, again.json()["id"])


async def test_three_running_jobs_per_user_and_the_rest_wait(stack: Stack) -> None:
    async with user_client(stack, "agent-limit") as api:
        starts = [
            api.post(
                "/v1/jobs",
                json={
                    "kind": "agent",
                    "instruction": f"Job {i}",
                    "chat_id": f"limit-{i}",
                    "steps": [{"title": "Sleep", "script": "sleep 3"}],
                },
            )
            for i in range(5)
        ]
        ids = {a.json()["id"] for a in await asyncio.gather(*starts)}
        most = 0
        while True:
            # One listing is one read of the store: a snapshot. Jobs read one by one could show
            # a job still running and, a moment later, the one its end let in.
            jobs = (await api.get("/v1/jobs", params={"limit": 10})).json()["jobs"]
            assert {j["id"] for j in jobs} == ids
            active = [j for j in jobs if j["status"] in ("planning", "running")]
            most = max(most, len(active))
            if all(j["status"] == "completed" for j in jobs):
                break
            assert not any(j["status"] in ("failed", "cancelled") for j in jobs), jobs
            await asyncio.sleep(0.2)
        assert most == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "agent", "instruction": "   "}, "instruction"),
        ({"kind": "agent"}, "instruction"),
        ({"kind": "robot", "instruction": "x"}, "kind"),
        ({"kind": "agent", "instruction": "x", "steps": [{"title": "t"}]}, "steps[0]"),
        (
            {
                "kind": "agent",
                "instruction": "x",
                "steps": [{"title": "t", "script": "a", "ask": "b"}],
            },
            "steps[0]",
        ),
        ({"kind": "agent", "instruction": "x", "script": "echo"}, "script"),
        ({"name": "n", "script": "echo", "chat_id": "c"}, "chat_id"),
    ],
)
async def test_bad_agent_submissions_are_422_naming_the_field(
    stack: Stack, body: dict, field: str
) -> None:
    async with user_client(stack, "agent-bad") as api:
        answer = await api.post("/v1/jobs", json=body)
        assert answer.status_code == 422, answer.text
        assert field in answer.json()["detail"]
        assert (await api.get("/v1/jobs")).json()["jobs"] == []


async def test_bad_messages_and_other_users_jobs(stack: Stack) -> None:
    async with (
        user_client(stack, "agent-owner") as owner,
        user_client(stack, "agent-other") as other,
    ):
        job = await start_agent(owner, instruction="Ask", steps=[{"title": "Ask", "ask": "Ready?"}])
        huge = await owner.post(f"/v1/jobs/{job['id']}/messages", json={"text": "x" * 1_000_000})
        assert huge.status_code == 422
        assert "text" in huge.json()["detail"]
        empty = await owner.post(f"/v1/jobs/{job['id']}/messages", json={"text": ""})
        assert empty.status_code == 422
        for call in (
            other.get(f"/v1/jobs/{job['id']}/messages"),
            other.post(f"/v1/jobs/{job['id']}/messages", json={"text": "hi"}),
        ):
            assert (await call).status_code == 404
        waiting = await wait_for_status(owner, job["id"], {"waiting_for_input"})
        wrong = await owner.post(
            f"/v1/jobs/{job['id']}/messages", json={"text": "yes", "reply_to": "prompt-9"}
        )
        assert wrong.status_code == 409
        right = await owner.post(
            f"/v1/jobs/{job['id']}/messages",
            json={"text": "yes", "reply_to": waiting["prompt"]["id"]},
        )
        assert right.status_code == 201
        done = await wait_for_status(owner, job["id"])
        assert done["status"] == "completed"
        assert [m["text"] for m in done["messages"]] == ["yes"]  # the refused ones left nothing


def test_the_cli_follows_an_agent_job_and_answers_its_question_at_the_terminal(
    stack: Stack,
) -> None:
    key = stack.new_user("agent-cli")
    run = stack.cli(
        "agent",
        "start",
        "Pick a variant and use it",
        "--step",
        "Pick::?Which variant?::alpha,beta",
        "--step",
        "Use::echo chose $JOBYARD_ANSWER",
        "--chat",
        "cli-chat",
        api_key=key,
        check=False,
        stdin="2\n",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Which variant?" in run.stdout
    assert "chose beta" in run.stdout
    listed = stack.cli("agent", "list", "--chat", "cli-chat", "--json", api_key=key)
    [job] = json.loads(listed.stdout)
    assert job["status"] == "completed"
    assert job["timeline"][-1]["output_tail"] == "chose beta"
    conversation = stack.cli("agent", "messages", job["id"], "--json", api_key=key)
    assert [m["text"] for m in json.loads(conversation.stdout)] == ["beta"]

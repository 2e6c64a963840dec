"""The LLM planner against a scripted OpenAI-compatible server (its own process, standing in for
the provider): a plan worked through with tools, revised mid-run, a question and a message that
change what it does, the agent killed mid-command and mid-call, the model failing, a budget."""

import asyncio
import base64
import io
import zipfile

import pytest

from jobyard_testing.jobs import start_agent, user_client, wait_for_status, wait_until_job
from jobyard_testing.model_server import ModelServer, scenario_tag, unique_key
from jobyard_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def call(name: str, **arguments: object) -> dict:
    return {"name": name, "arguments": arguments}


def tiny_wheel() -> str:
    """A pure-Python wheel, base64: the package the plan installs without network."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        wheel.writestr("tinystats/__init__.py", "def spread(xs):\n    return max(xs) - min(xs)\n")
        info = "tinystats-0.1.dist-info"
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: tinystats\nVersion: 0.1\n")
        wheel.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        wheel.writestr(f"{info}/RECORD", "")
    return base64.b64encode(buffer.getvalue()).decode()


async def test_a_three_step_plan_installs_a_wheel_writes_a_script_runs_it_and_revises(
    stack: Stack, model_server: ModelServer
) -> None:
    key = unique_key("plan")
    wheel = "/workspace/tinystats-0.1-py3-none-any.whl"
    model_server.script(
        key,
        {
            "turns": [
                {"tool_calls": [call("update_plan", items=["Install", "Write script", "Run"])]},
                {
                    "tool_calls": [
                        call(
                            "run_command",
                            title="Install tinystats",
                            command=f"echo {tiny_wheel()} | base64 -d > {wheel} && "
                            f"pip install -q --no-index {wheel} && "
                            "echo installed",
                        ),
                        call("mark_done", item=0),
                    ]
                },
                {
                    "tool_calls": [
                        call(
                            "write_file",
                            path="analyse.py",
                            content="import tinystats\n"
                            "print('spread', tinystats.spread([3, 9, 4]))\n",
                        ),
                        call("mark_done", item=1),
                        call("update_plan", items=["Run", "Report"]),
                    ]
                },
                {
                    "tool_calls": [
                        call("run_command", command="python3 analyse.py"),
                        call("mark_done", item=2),
                        call("send_message", text="The spread is 6."),
                        call("mark_done", item=3),
                    ]
                },
                {"tool_calls": [call("finish", summary="Spread computed: 6")]},
            ]
        },
    )
    async with user_client(stack, "planner") as api:
        job = await start_agent(api, instruction=f"{scenario_tag(key)} Compute the spread")
        assert job["planner"] == "llm"
        done = await wait_for_status(api, job["id"])
        assert done["status"] == "completed", done
        assert done["summary"] == "Spread computed: 6"
        assert [(p["title"], p["status"]) for p in done["plan"]] == [
            ("Install", "completed"),
            ("Write script", "completed"),
            ("Run", "completed"),
            ("Report", "completed"),
        ]
        assert done["progress"]["completed_steps"] == done["progress"]["total_steps"] == 4
        steps = done["timeline"]
        assert [s["title"] for s in steps] == [
            "Install tinystats",
            "Write analyse.py",
            "python3 analyse.py",
        ]
        assert "installed" in steps[0]["output_tail"]
        assert "spread 6" in steps[2]["output_tail"]
        assert steps[2]["command"] == "python3 analyse.py"
        assert [m["text"] for m in done["messages"]] == ["The spread is 6."]

        seen = model_server.requests(key)
        assert [r["turn"] for r in seen] == [0, 1, 2, 3, 4]
        assert "run_command" in seen[0]["tools"]
        observed = [m["content"] for m in seen[2]["messages"] if m["role"] == "tool"]
        assert any("exit code 0" in o and "[files changed]" in o for o in observed), observed
        assert any("item 0 done" in o for o in observed)


async def test_a_question_and_a_message_change_what_the_model_does(
    stack: Stack, model_server: ModelServer
) -> None:
    key = unique_key("steer")
    model_server.script(
        key,
        {
            "turns": [
                {"tool_calls": [call("run_command", command="echo ready > /workspace/state")]},
                {
                    "tool_calls": [
                        call("ask_user", question="Mean or median?", choices=["mean", "median"])
                    ]
                },
                {
                    "when": [
                        {
                            "contains": "The owner answered: median",
                            "reply": {
                                "tool_calls": [
                                    call("run_command", command="echo using median; sleep 3")
                                ]
                            },
                        }
                    ],
                    "otherwise": {"tool_calls": [call("run_command", command="echo using mean")]},
                },
                {
                    "when": [
                        {
                            "contains": "also report the maximum",
                            "reply": {"tool_calls": [call("run_command", command="echo max is 9")]},
                        }
                    ],
                    "otherwise": {"tool_calls": [call("finish", summary="no max")]},
                },
                {"tool_calls": [call("finish", summary="median and max reported")]},
            ]
        },
    )
    async with user_client(stack, "steer") as api:
        job = await start_agent(api, instruction=f"{scenario_tag(key)} Summarise the data")
        waiting = await wait_for_status(api, job["id"], {"waiting_for_input", "failed"})
        assert waiting["status"] == "waiting_for_input", waiting
        assert waiting["prompt"]["choices"] == ["mean", "median"]
        await wait_until_job(api, job["id"], lambda j: j["paused"] is not None)
        # Long enough frozen that the unpaid wait outweighs the moments between the sandbox's
        # start (the session's) and the agent recording the job's start.
        await asyncio.sleep(2)
        answer = await api.post(f"/v1/jobs/{job['id']}/messages", json={"text": "median"})
        assert answer.status_code == 201
        running = await wait_until_job(
            api,
            job["id"],
            lambda j: (
                any("median" in (s["command"] or "") for s in j["plan"] + j["timeline"])
                or j["progress"]["current_step"] is not None
                or j["status"] != "waiting_for_input"
            ),
        )
        assert running["status"] != "failed", running
        message = await api.post(
            f"/v1/jobs/{job['id']}/messages", json={"text": "Please also report the maximum"}
        )
        assert message.status_code == 201
        done = await wait_for_status(api, job["id"])
        assert done["status"] == "completed", done
        assert done["summary"] == "median and max reported"
        outputs = [s["output_tail"] for s in done["timeline"]]
        assert any("using median" in o for o in outputs)
        assert any("max is 9" in o for o in outputs)
        assert done["sandbox"]["session_used_seconds"] < done["duration_seconds"]


async def test_the_agent_killed_mid_command_and_mid_call_runs_nothing_twice(
    stack: Stack, model_server: ModelServer
) -> None:
    key = unique_key("kill")
    model_server.script(
        key,
        {
            "turns": [
                {
                    "tool_calls": [
                        call(
                            "run_command",
                            command="echo run >> /workspace/runs; sleep 4; echo slept",
                        )
                    ]
                },
                {
                    "delay": 4,
                    "tool_calls": [call("run_command", command="wc -l < /workspace/runs")],
                },
                {"tool_calls": [call("finish", summary="counted")]},
            ]
        },
    )
    async with user_client(stack, "kill") as api:
        job = await start_agent(api, instruction=f"{scenario_tag(key)} Count the runs")
        await wait_until_job(api, job["id"], lambda j: j["status"] == "running")
        stack.kill("agent")  # mid command
        stack.start("agent")
        await wait_until_job(
            api, job["id"], lambda j: len(j["timeline"]) == 1 or j["status"] == "failed"
        )
        while not any(r["turn"] == 1 for r in model_server.requests(key)):
            await wait_until_job(api, job["id"], lambda j: True, timeout=1)
        stack.kill("agent")  # mid model call (the answer takes 1.5 s)
        stack.start("agent")
        done = await wait_for_status(api, job["id"])
        assert done["status"] == "completed", done
        assert [s["output_tail"].strip() for s in done["timeline"]][1] == "1"
        assert len(done["timeline"]) == 2
        turn_one = [r for r in model_server.requests(key) if r["turn"] == 1]
        assert len(turn_one) >= 2  # asked again after the kill, decided once


@pytest.mark.parametrize(
    ("failures", "said"),
    [
        (["status:500"] * 5, "HTTP 500"),
        (["timeout"] * 5, "timed out"),
        (["garbage"] * 5, "not a chat completion"),
        (["bad_arguments"] * 5, "malformed arguments"),
    ],
)
async def test_a_failing_model_is_retried_then_fails_the_job_with_the_reason(
    stack: Stack, model_server: ModelServer, failures: list[str], said: str
) -> None:
    key = unique_key("down")
    model_server.script(
        key,
        {
            "turns": [{"tool_calls": [call("run_command", command="echo hi")]}],
            "failures": {"0": failures},
        },
    )
    async with user_client(stack, "down") as api:
        job = await start_agent(api, instruction=f"{scenario_tag(key)} Say hi")
        done = await wait_for_status(api, job["id"])
        assert done["status"] == "failed", done
        assert done["reason"] == "planner error"
        assert said in done["message"]
        assert len(model_server.requests(key)) == 3  # JOBYARD_LLM_ATTEMPTS in the test stack


async def test_a_model_that_recovers_after_errors_completes_the_job(
    stack: Stack, model_server: ModelServer
) -> None:
    key = unique_key("flaky")
    model_server.script(
        key,
        {
            "turns": [
                {"tool_calls": [call("run_command", command="echo hi")]},
                {"tool_calls": [call("finish", summary="said hi")]},
            ],
            "failures": {"0": ["status:503", "garbage"], "1": ["status:429"]},
        },
    )
    async with user_client(stack, "flaky") as api:
        job = await start_agent(api, instruction=f"{scenario_tag(key)} Say hi")
        done = await wait_for_status(api, job["id"])
        assert done["status"] == "completed", done
        assert [r["outcome"] for r in model_server.requests(key)] == [
            "status:503",
            "garbage",
            "ok",
            "status:429",
            "ok",
        ]


async def test_a_planner_that_never_finishes_exhausts_its_budget(
    stack: Stack, model_server: ModelServer
) -> None:
    key = unique_key("budget")
    model_server.script(
        key,
        {
            "turns": [
                {"tool_calls": [call("update_plan", items=["Loop"])]},
                {"tool_calls": [call("run_command", command="true")]},
            ],
            "after_last": "repeat_last",
        },
    )
    async with user_client(stack, "budget") as api:
        job = await start_agent(api, instruction=f"{scenario_tag(key)} Loop forever")
        done = await wait_for_status(api, job["id"])
        assert done["status"] == "failed", done
        assert done["reason"] == "budget exhausted"
        assert "4 commands were run for plan item 0 (Loop)" in done["message"]
        assert len(done["timeline"]) == 4

"""The model stand-in as its own process, driven by the real `openai` client."""

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from jobyard_testing.model_server import ModelServer, scenario_tag, unique_key

pytestmark = pytest.mark.integration

RUN_LS = {"name": "run_command", "arguments": {"command": "ls"}}
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "run_command",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
        },
    }
]


@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    with ModelServer.start() as started:
        yield started


@pytest.fixture
def client(server: ModelServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as c:
        yield c


def ask(client: openai.OpenAI, messages: list[Any], **kwargs: Any) -> Any:
    return client.chat.completions.create(
        model="stand-in", messages=messages, tools=TOOLS, **kwargs
    )


def opening(key: str, text: str = "Analyse the data") -> list[Any]:
    return [
        {"role": "system", "content": "You are an agent."},
        {"role": "user", "content": f"{scenario_tag(key)} {text}"},
    ]


def after(messages: list[Any], completion: Any, tool_output: str) -> list[Any]:
    """The conversation after the agent ran the completion's tool call."""
    message = completion.choices[0].message
    return [
        *messages,
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": tool_output},
    ]


def test_replies_turn_by_turn_and_a_resent_turn_gets_the_same_answer(server, client):
    key = unique_key()
    server.script(
        key, {"turns": [{"content": "Listing.", "tool_calls": [RUN_LS]}, {"content": "Done."}]}
    )

    first = ask(client, opening(key))
    assert first.model == "stand-in"
    assert first.choices[0].finish_reason == "tool_calls"
    assert first.choices[0].message.content == "Listing."
    call = first.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name) == ("call_0_0", "run_command")
    assert json.loads(call.function.arguments) == {"command": "ls"}
    assert first.usage.completion_tokens >= 1
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens

    resent = ask(client, opening(key))
    assert resent.choices[0].message.tool_calls[0].id == "call_0_0"

    second = ask(client, after(opening(key), first, "data.csv"))
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "Done."
    assert second.choices[0].message.tool_calls is None

    log = server.requests(key)
    assert [(r["turn"], r["attempt"], r["outcome"]) for r in log] == [
        (0, 0, "ok"),
        (0, 1, "ok"),
        (1, 0, "ok"),
    ]
    assert log[0]["tools"] == ["run_command"]
    assert log[2]["messages"][-1]["content"] == "data.csv"


def test_a_conditional_turn_answers_what_the_user_and_tools_said(server, client):
    key = unique_key()
    mean = {"name": "run_command", "arguments": {"command": "mean"}}
    median = {"name": "run_command", "arguments": {"command": "median"}}
    when = [{"contains": "use the median", "reply": {"tool_calls": [median]}}]
    server.script(key, {"turns": [{"when": when, "otherwise": {"tool_calls": [mean]}}]})

    plain = ask(client, opening(key))
    told = ask(client, opening(key, "Analyse it; use the median"))

    assert plain.choices[0].message.tool_calls[0].function.arguments == '{"command": "mean"}'
    assert told.choices[0].message.tool_calls[0].function.arguments == '{"command": "median"}'


def test_string_arguments_are_sent_as_they_are_and_usage_can_be_scripted(server, client):
    key = unique_key()
    broken = {"name": "run_command", "arguments": "{not json"}
    usage = {"prompt_tokens": 1000, "completion_tokens": 7}
    server.script(key, {"turns": [{"tool_calls": [broken], "usage": usage}]})

    reply = ask(client, opening(key))

    assert reply.choices[0].message.tool_calls[0].function.arguments == "{not json"
    assert (reply.usage.prompt_tokens, reply.usage.total_tokens) == (1000, 1007)


def test_failures_are_spent_one_per_attempt_then_the_turn_answers(server, client):
    key = unique_key()
    failures = {"0": ["status:500", "status:429", "bad_arguments", "empty"]}
    server.script(key, {"turns": [{"tool_calls": [RUN_LS]}], "failures": failures})

    with pytest.raises(openai.InternalServerError):
        ask(client, opening(key))
    with pytest.raises(openai.RateLimitError) as limited:
        ask(client, opening(key))
    assert limited.value.type == "rate_limit_error"
    truncated = ask(client, opening(key)).choices[0].message.tool_calls[0]
    assert truncated.function.arguments == '{"command": '
    assert ask(client, opening(key)).choices == []
    assert ask(client, opening(key)).choices[0].message.tool_calls[0].id == "call_0_0"

    outcomes = [r["outcome"] for r in server.requests(key)]
    assert outcomes == ["status:500", "status:429", "bad_arguments", "empty", "ok"]


def test_the_clients_own_retries_get_through_a_failure(server):
    key = unique_key()
    server.script(key, {"turns": [{"content": "hi"}], "failures": {"0": ["status:503"]}})

    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=1) as retrying:
        assert ask(retrying, opening(key)).choices[0].message.content == "hi"

    assert [r["attempt"] for r in server.requests(key)] == [0, 1]


def test_garbage_is_a_200_that_is_not_json(server):
    key = unique_key()
    server.script(key, {"turns": [{"content": "hi"}], "failures": {"0": ["garbage"]}})
    body = {"model": "m", "messages": opening(key)}

    response = httpx.post(f"{server.base_url}/chat/completions", json=body)

    assert (response.status_code, response.text) == (200, "<html>oops")
    assert response.headers["content-type"] == "text/html"


def test_a_timeout_holds_the_request_until_the_client_gives_up(server):
    key = unique_key()
    server.script(key, {"turns": [{"content": "late"}], "failures": {"0": ["timeout"]}})
    impatient = openai.OpenAI(base_url=server.base_url, api_key="t", max_retries=0, timeout=0.3)

    with impatient, pytest.raises(openai.APITimeoutError):
        ask(impatient, opening(key))
    deadline = time.monotonic() + 2
    while "hung-up" not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert f"scenario={key} turn=0 attempt=0 timeout" in server.log_text()
    assert "hung-up" in server.log_text()  # the server noticed, instead of holding it 30 s


def test_a_delay_is_waited_before_answering(server, client):
    key = unique_key()
    server.script(key, {"turns": [{"content": "slow", "delay": 0.3}]})

    started = time.monotonic()
    assert ask(client, opening(key)).choices[0].message.content == "slow"
    assert time.monotonic() - started >= 0.3


def test_past_the_last_turn_repeats_it_or_fails(server, client):
    repeat, error = unique_key(), unique_key()
    server.script(repeat, {"turns": [{"content": "again"}]})
    server.script(error, {"turns": [{"content": "once"}], "after_last": "error"})
    assistant = {"role": "assistant", "content": "earlier"}

    assert ask(client, [*opening(repeat), assistant]).choices[0].message.content == "again"
    with pytest.raises(openai.InternalServerError):
        ask(client, [*opening(error), assistant])
    assert server.requests(error)[0]["outcome"] == "after_last"


def test_requests_route_by_the_longest_key_in_the_first_user_message(server, client):
    key = unique_key()
    server.script(key, {"turns": [{"content": "short"}]})
    server.script(f"{key}0", {"turns": [{"content": "long"}]})

    assert ask(client, opening(f"{key}0")).choices[0].message.content == "long"
    with pytest.raises(openai.NotFoundError) as unmatched:
        ask(client, [{"role": "user", "content": "no tag"}, *opening(key)])
    assert unmatched.value.message.endswith("no scenario matches")
    assert unmatched.value.type == "invalid_request_error"


def test_a_malformed_scenario_is_refused(server):
    with pytest.raises(ValueError, match="unknown mode"):
        server.script(unique_key(), {"turns": [], "failures": {"0": ["explode"]}})
    with pytest.raises(ValueError, match="needs a `name`"):
        server.script(unique_key(), {"turns": [{"tool_calls": [{"arguments": {}}]}]})


def test_an_api_key_is_checked_when_configured():
    with ModelServer.start(api_key="sk-right") as guarded:
        key = unique_key()
        guarded.script(key, {"turns": [{"content": "ok"}]})
        wrong = openai.OpenAI(base_url=guarded.base_url, api_key="sk-wrong", max_retries=0)
        right = openai.OpenAI(base_url=guarded.base_url, api_key="sk-right", max_retries=0)

        with wrong, pytest.raises(openai.AuthenticationError):
            ask(wrong, opening(key))
        with right:
            assert ask(right, opening(key)).choices[0].message.content == "ok"

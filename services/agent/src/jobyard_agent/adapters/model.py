"""The planner's model: any OpenAI-compatible Chat Completions endpoint (OpenAI, vLLM, Ollama,
llama.cpp's server, LiteLLM), called with the `openai` client. Failures (unreachable, timed
out, an error status, an answer that is not a completion, malformed tool arguments) are
retried with exponential backoff; when the retries are used up, `ModelUnavailableError` says why."""

from __future__ import annotations

import json
from typing import Any

import openai
from openai.types.chat import ChatCompletion
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from jobyard_agent.settings import PlannerSettings
from jobyard_contracts import ToolCall
from jobyard_logging import get_logger

log = get_logger("agent.model")


class ModelUnavailableError(Exception):
    """The model gave no usable answer within the retries."""


class _BadAnswerError(Exception):
    pass


class ChatModel:
    def __init__(self, settings: PlannerSettings) -> None:
        self._settings = settings
        self._client = openai.AsyncOpenAI(
            base_url=settings.base_url,
            # Local servers take any key; the key is never logged nor stored with a job.
            api_key=settings.api_key.get_secret_value() if settings.api_key else "unused",
            timeout=settings.timeout_seconds,
            max_retries=0,  # retried below, with our backoff and our notion of a bad answer
        )

    async def decide(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> tuple[str, tuple[ToolCall, ...], int]:
        """The model's next move: its text, its tool calls and the tokens it used."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.attempts),
            wait=wait_exponential(
                multiplier=self._settings.backoff_seconds, max=self._settings.backoff_max_seconds
            ),
            retry=retry_if_exception_type((openai.APIError, _BadAnswerError)),
            before_sleep=lambda state: log.warning(
                "model call failed; retrying",
                attempt=state.attempt_number,
                error=str(state.outcome.exception()) if state.outcome else "",
            ),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._call(messages, tools)
        except RetryError as exc:
            error = exc.last_attempt.exception()
            raise ModelUnavailableError(
                f"the model at {self._settings.base_url} gave no usable answer after "
                f"{self._settings.attempts} attempts: {_describe(error)}"
            ) from None
        raise AssertionError("unreachable")

    async def _call(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> tuple[str, tuple[ToolCall, ...], int]:
        # The messages and tools are plain dicts of the documented shapes.
        response = await self._client.chat.completions.create(  # type: ignore[call-overload]
            model=self._settings.model,
            messages=messages,
            tools=tools,
            tool_choice="auto",
            temperature=self._settings.temperature,
        )
        if not isinstance(response, ChatCompletion) or not response.choices:
            raise _BadAnswerError("the answer is not a chat completion")
        message = response.choices[0].message
        calls = []
        for call in message.tool_calls or []:
            if call.type != "function":
                continue
            try:
                arguments = json.loads(call.function.arguments or "{}")
            except ValueError:
                raise _BadAnswerError(f"malformed arguments for {call.function.name}") from None
            if not isinstance(arguments, dict):
                raise _BadAnswerError(f"arguments of {call.function.name} are not an object")
            calls.append(
                ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments)
            )
        tokens = response.usage.total_tokens if response.usage else _estimate(messages)
        return message.content or "", tuple(calls), tokens


def _estimate(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content") or "")) for m in messages) // 4


def _describe(error: BaseException | None) -> str:
    match error:
        case openai.APITimeoutError():
            return "it timed out"
        case openai.APIConnectionError():
            return "it could not be reached"
        case openai.APIStatusError(status_code=status):
            return f"it answered HTTP {status}"
        case None:
            return "unknown error"
    return str(error)

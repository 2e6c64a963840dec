"""Live feeds over WebSockets against the whole stack: a job's events and output lines resume
without gap or duplicate (NATS up or down), the jobs page feed, live tokens, and isolation."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from httpx_ws import WebSocketDisconnect, WebSocketUpgradeError, aconnect_ws

from jobyard_testing.jobs import submit, user_client, wait_for_status
from jobyard_testing.nats_outage import nats_down

pytestmark = pytest.mark.e2e

LINES = 5000
# 5,000 numbered lines over a few seconds, so a client can be cut off while the job runs.
COUNTING = f"for i in $(seq 1 {LINES}); do echo line $i; [ $((i % 250)) -eq 0 ] && sleep 0.2; done"


class Received:
    """What a client got: events and lines in arrival order, and how its stream ended."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []
        self.end: dict[str, Any] | None = None
        self.close_code: int | None = None
        self.close_reason = ""

    @property
    def cursor(self) -> str:
        seq = self.events[-1]["seq"] if self.events else 0
        line = self.lines[-1]["seq"] if self.lines else 0
        return f"after_seq={seq}&after_line={line}"

    def take(self, message: dict[str, Any]) -> None:
        if message["type"] == "event":
            self.events.append(message)
        elif message["type"] == "line":
            self.lines.append(message)
        elif message["type"] == "end":
            self.end = message


async def follow(
    api: httpx.AsyncClient, job_id: str, got: Received, *, stop_after_lines: int | None = None
) -> None:
    """Read the job's feed from where `got` is, until the server closes it (or, with
    `stop_after_lines`, until that many lines have arrived: then the client hangs up)."""
    async with aconnect_ws(f"/v1/jobs/{job_id}/live?{got.cursor}", api) as ws:
        try:
            while stop_after_lines is None or len(got.lines) < stop_after_lines:
                got.take(await ws.receive_json())
        except WebSocketDisconnect as closed:
            got.close_code, got.close_reason = closed.code, closed.reason or ""


def assert_complete(got: Received, events: list[dict[str, Any]]) -> None:
    assert [line["text"] for line in got.lines] == [f"line {i}" for i in range(1, LINES + 1)]
    assert [line["seq"] for line in got.lines] == list(range(1, LINES + 1))
    assert [e["seq"] for e in got.events] == list(range(1, len(got.events) + 1))
    assert [e["seq"] for e in got.events] == [e["seq"] for e in events]  # the stored log, all of it
    assert got.end is not None
    assert got.end["status"] == "completed"
    assert got.close_code == 1000


async def stored_events(api: httpx.AsyncClient, job_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = (await api.get(f"/v1/jobs/{job_id}/events", params={"after_seq": after})).json()
        events += page["events"]
        if page["next_after_seq"] is None:
            return events
        after = page["next_after_seq"]


async def test_a_client_cut_off_mid_way_resumes_with_every_line_exactly_once(api):
    job = await submit(api, name="counting-live", script=COUNTING)
    got = Received()
    await follow(api, job["id"], got, stop_after_lines=1500)  # hangs up while the job runs
    assert got.close_code is None
    assert 1500 <= len(got.lines) < LINES
    await follow(api, job["id"], got)  # and comes back with its cursor

    assert_complete(got, await stored_events(api, job["id"]))
    types = [e["event"]["type"] for e in got.events]
    assert types[0] == "job.submitted"
    assert "job.completed" in types


async def test_the_feed_survives_nats_going_down_during_the_job(api):
    job = await submit(api, name="counting-no-nats", script=COUNTING)
    got = Received()
    await follow(api, job["id"], got, stop_after_lines=500)
    with nats_down():
        await follow(api, job["id"], got, stop_after_lines=2500)  # the store alone feeds it
    await follow(api, job["id"], got)
    assert_complete(got, await stored_events(api, job["id"]))


async def test_a_stream_read_from_the_start_after_the_end_replays_everything_and_closes(api):
    job = await submit(api, name="ended", script="echo one; echo two")
    await wait_for_status(api, job["id"], {"completed"})
    got = Received()
    await asyncio.wait_for(follow(api, job["id"], got), 60)
    assert [line["text"] for line in got.lines] == ["one", "two"]
    assert got.end is not None
    assert got.close_code == 1000
    events = await stored_events(api, job["id"])
    assert [e["type"] for e in events][:2] == ["job.submitted", "job.admitted"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


async def test_a_client_too_slow_is_told_where_it_got_and_resumes_from_there(api):
    many = 40_000  # ~13 MB of messages: more than the socket buffers on both sides hold
    job = await submit(api, name="firehose", script=f"seq 1 {many} | sed 's/$/ {'x' * 300}/'")
    got = Received()
    # A fixed, small receive buffer: Linux would otherwise let it grow to tens of megabytes.
    small_buffer = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)]
    transport = httpx.AsyncHTTPTransport(socket_options=small_buffer)
    async with (
        httpx.AsyncClient(base_url=api.base_url, headers=api.headers, transport=transport) as slow,
        aconnect_ws(
            f"/v1/jobs/{job['id']}/live", slow, queue_size=64, keepalive_ping_interval_seconds=None
        ) as ws,
    ):
        # Reads nothing until the whole output is there to send (megabytes more than the
        # buffers hold), and past the server's send timeout (2 s in the test stack): the server
        # gives up on it. Not much longer: uvicorn drops a client that has not answered its
        # pings for 40 s, and then the close frame would never arrive.
        await all_lines_stored(api, job["id"], many, within=30)
        await asyncio.sleep(4)
        try:
            while True:
                got.take(await ws.receive_json())
        except WebSocketDisconnect as closed:
            got.close_code, got.close_reason = closed.code, closed.reason or ""
    assert got.close_code == 4408
    told = int(got.close_reason.rsplit("after_line=", 1)[1])  # where it got, give or take
    # the message on its way when the connection closed (the client resumes from its own)
    assert abs(told - got.lines[-1]["seq"]) <= 1
    assert len(got.lines) < many
    await follow(api, job["id"], got)
    assert [line["seq"] for line in got.lines] == list(range(1, many + 1))
    assert got.close_code == 1000


async def all_lines_stored(api, job_id: str, count: int, within: float) -> None:
    """Wait until the job's last line is stored, or `within` seconds have passed."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        last = await api.get(f"/v1/jobs/{job_id}/logs", params={"after_seq": count - 1})
        if last.json()["lines"]:
            return
        await asyncio.sleep(0.5)


def jobs_in(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "job"]


async def test_the_jobs_page_feed_shows_my_jobs_changing_and_nothing_of_others(stack, api):
    other = user_client(stack, "live-other")
    try:
        seen: list[dict[str, Any]] = []

        def told_of_the_end() -> bool:
            notices = [m["notification"] for m in seen if m["type"] == "notification"]
            completed = any(
                m["job"]["id"] == mine.get("id") and m["job"]["status"] == "completed"
                for m in jobs_in(seen)
            )
            return completed and any(n["job_id"] == mine.get("id") for n in notices)

        async def watch() -> None:
            async with aconnect_ws("/v1/live", api) as ws:
                while not told_of_the_end():
                    seen.append(await ws.receive_json())

        mine: dict[str, Any] = {}
        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.5)  # subscribed
        theirs = await submit(other, name="not-yours", script="echo theirs")
        mine |= await submit(api, name="mine", script="sleep 1; echo mine")
        await asyncio.wait_for(watcher, 90)  # its completion, and the notification of it

        jobs = jobs_in(seen)  # (earlier jobs of this user may still change: their last files)
        assert mine["id"] in {m["job"]["id"] for m in jobs}
        assert theirs["id"] not in {m["job"]["id"] for m in jobs}  # nothing of another user's
        notices = [m["notification"] for m in seen if m["type"] == "notification"]
        assert theirs["id"] not in {n["job_id"] for n in notices}
        statuses = [m["job"]["status"] for m in jobs if m["job"]["id"] == mine["id"]]
        assert statuses[-1] == "completed"
        assert "running" in statuses
        await wait_for_status(other, theirs["id"])
    finally:
        await other.aclose()


async def test_live_tokens_open_sockets_for_browsers_and_other_users_jobs_are_not_found(stack, api):
    job = await submit(api, name="token", script="echo hello")
    await wait_for_status(api, job["id"], {"completed"})
    token = (await api.post("/v1/live-tokens")).json()
    assert token["token"].startswith("jylt_")

    async with httpx.AsyncClient(base_url=stack.base_url) as browser:  # no API key header
        got = Received()
        browser.params = httpx.QueryParams(token=token["token"])
        await follow(browser, job["id"], got)
        assert got.close_code == 1000
        assert [line["text"] for line in got.lines] == ["hello"]

        browser.params = httpx.QueryParams(token="jylt_forged")
        with pytest.raises(WebSocketUpgradeError):  # refused before the socket opens
            await follow(browser, job["id"], Received())

    other = user_client(stack, "live-stranger")
    try:
        assert (await closed_at_once(other, f"/v1/jobs/{job['id']}/live")).code == 4404
        assert (await other.get(f"/v1/jobs/{job['id']}/events")).status_code == 404
    finally:
        await other.aclose()


async def closed_at_once(client: httpx.AsyncClient, path: str) -> WebSocketDisconnect:
    """How the server closes a socket it will not serve."""
    async with aconnect_ws(path, client) as ws:
        try:
            message = await ws.receive_json()
        except WebSocketDisconnect as closed:
            return closed
    raise AssertionError(f"the server sent {message} instead of closing")


async def test_bad_cursors_are_refused_with_a_reason(api):
    job = await submit(api, name="cursor", script="true")
    response = await api.get(f"/v1/jobs/{job['id']}/events", params={"after_seq": -1})
    assert response.status_code == 422
    assert "after_seq" in response.text
    refused = await closed_at_once(api, f"/v1/jobs/{job['id']}/live?after_seq=minus")
    assert refused.code == 4422
    assert "after_seq" in (refused.reason or "")

"""The web dashboard as a person uses it, in Chromium against the running stack: sign-in, a job
started from the form followed live to its end, a question answered with a choice and in free
text, a message sent, pause, resume and cancel from the panel, a script job with env and an
input file started from the form, a produced file opened through its link, the jobs page's
filters and live rows, and another user's job as "not found"."""

from __future__ import annotations

import re
import socket
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from jobyard_testing.stack import Stack

# The fixtures' helpers (tests/browser/conftest.py): a user over HTTP, screenshots, the
# console watch and sign-in.
Api = Shot = ConsoleWatch = Any
TERMINAL = {"completed", "failed", "stopped", "cancelled"}

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

LIVE = 60_000  # ms: what a job takes to get somewhere, seen live


def step(title: str, script: str) -> dict[str, str]:
    return {"title": title, "script": script}


def test_sign_in_keeps_the_key_out_of_the_page(
    page: Page, stack: Stack, user: Api, shot: Shot, sign_in: Any
) -> None:
    page.goto(f"{stack.base_url}/dashboard/jobs")
    expect(page).to_have_url(re.compile(r"/dashboard/sign-in\?next="))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "sign-in")

    sign_in(page, user.key)
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert user.key not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # nothing a script can read
    assert page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)") == "{}{}"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{stack.base_url}/dashboard/files")
    expect(page).to_have_url(re.compile(r"/dashboard/sign-in"))


def test_agent_job_from_the_form_advances_live_to_completion(
    signed_in: Page, stack: Stack, user: Api, shot: Shot
) -> None:
    page = signed_in
    page.get_by_role("link", name="Start a job").first.click()
    page.get_by_label("Agent job").check()
    page.get_by_label("Instruction", exact=True).fill("Count to three, one step at a time")
    scripts = [
        r"printf '\033[32mgreen one\033[0m\n'; sleep 2",
        "echo two; sleep 2",
        "echo three > three.txt; cat three.txt",
    ]
    for number, script in enumerate(scripts, start=1):
        page.get_by_role("button", name="Add a step").click()
        row = page.locator(".step-row").nth(number - 1)
        row.get_by_label("Title").fill(f"Step {number}")
        row.get_by_label("Script, question or instruction").fill(script)
    page.get_by_label("Memory (MB)").fill("256")
    page.get_by_role("button", name="Start").click()

    page.wait_for_url(re.compile(r"/dashboard/jobs/job_"))
    progress = page.locator("#job-progress")
    plan = page.locator("#plan li")
    expect(plan).to_have_count(3)
    # The bar and the to-do list move while the job runs, without a reload.
    expect(progress).to_have_attribute("value", "1", timeout=LIVE)
    expect(plan.nth(0)).to_have_attribute("data-status", "completed")
    expect(page.locator(".progress-line")).to_contain_text("Step 2 of 3")
    shot(page, "running")
    expect(page.locator("#live-log .ansi-green")).to_have_text("green one")
    expect(page.locator("#job-panel .badge")).to_have_text("completed", timeout=LIVE)
    expect(progress).to_have_attribute("value", "3")
    for number in range(3):
        expect(plan.nth(number)).to_have_attribute("data-status", "completed")
    timeline = page.locator("#timeline > li")
    expect(timeline).to_have_count(3)
    expect(timeline.nth(2)).to_contain_text("exit 0")
    timeline.nth(1).get_by_text("Full log").click()
    expect(timeline.nth(1).locator(".log-body")).to_contain_text("two")
    expect(page.locator("#job-files")).to_contain_text("three.txt")
    shot(page, "completed")


def test_input_prompt_answered_from_the_panel(
    signed_in: Page, stack: Stack, user: Api, shot: Shot
) -> None:
    job = user.start(
        kind="agent",
        instruction="Report in the format I choose",
        memory_mb=256,
        steps=[
            step("Prepare", "seq 1 5 > data.txt"),
            {"title": "Choose the format", "ask": "Text or JSON?", "choices": ["text", "json"]},
            step("Report", 'echo "format=$JOBYARD_ANSWER lines=$(wc -l < data.txt)"'),
        ],
    )
    page = signed_in
    page.goto(f"{stack.base_url}/dashboard/jobs/{job['id']}")
    prompt = page.get_by_role("region", name="The job asks")
    expect(prompt).to_contain_text("Text or JSON?", timeout=LIVE)
    expect(page.locator("#job-panel .badge").first).to_have_text("waiting for input")
    shot(page, "prompt")
    prompt.get_by_role("button", name="json").click()
    expect(page.locator("#job-panel .badge").first).to_have_text("completed", timeout=LIVE)
    expect(page.locator("#timeline")).to_contain_text("format=json lines=5")
    expect(page.locator("#messages")).to_contain_text("json")


def test_free_text_answer_and_a_message_from_the_panel(
    signed_in: Page, stack: Stack, user: Api, shot: Shot
) -> None:
    job = user.start(
        kind="agent",
        instruction="Greet the sample I name, then wait a little",
        memory_mb=256,
        steps=[
            {"title": "Name the sample", "ask": "Which sample?"},
            step("Greet", 'echo "hello $JOBYARD_ANSWER"; sleep 8'),
        ],
    )
    page = signed_in
    page.goto(f"{stack.base_url}/dashboard/jobs/{job['id']}")
    prompt = page.get_by_role("region", name="The job asks")
    expect(prompt).to_contain_text("Which sample?", timeout=LIVE)
    prompt.get_by_label("Your answer").fill("S-17 (liver)")
    prompt.get_by_role("button", name="Answer").click()
    expect(page.locator("#job-panel .badge").first).to_have_text("running", timeout=LIVE)
    page.get_by_label("Message to the agent").fill("Thanks, carry on")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#messages")).to_contain_text("Thanks, carry on")
    expect(page.locator("#job-panel .badge").first).to_have_text("completed", timeout=LIVE)
    expect(page.locator("#timeline")).to_contain_text("hello S-17 (liver)")
    texts = [m["text"] for m in user.http.get(f"/v1/jobs/{job['id']}/messages").json()["messages"]]
    assert "S-17 (liver)" in texts
    assert "Thanks, carry on" in texts
    shot(page, "answered")


def test_script_job_from_the_form_with_env_and_an_input_file(
    signed_in: Page, stack: Stack, user: Api, shot: Shot, tmp_path: Any
) -> None:
    data = tmp_path / "hello.txt"
    data.write_text("from the form\n")
    page = signed_in
    page.get_by_role("link", name="Start a job").first.click()
    page.get_by_label("Script job").check()
    page.get_by_label("Name", exact=True).fill("greet-from-form")
    script = 'cat /workspace/inputs/hello.txt; echo "$GREETING"'
    page.get_by_label("Script", exact=True).fill(script)
    page.get_by_label("Environment").fill("GREETING=hi there")
    page.get_by_label("Memory (MB)").fill("256")
    page.get_by_label("Image").select_option("minimal")
    page.get_by_label("Input files").set_input_files(str(data))
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/dashboard/jobs/job_"))
    job_id = page.url.rsplit("/", 1)[-1]
    expect(page.locator("#job-panel .badge").first).to_have_text("completed", timeout=LIVE)
    job = user.job(job_id)
    assert [i["name"] for i in job["inputs"]] == ["hello.txt"]
    logs = user.http.get(f"/v1/jobs/{job_id}/logs").json()["text"]
    assert logs == "from the form\nhi there\n"
    details = page.get_by_role("region", name="Job", exact=True)
    expect(details).to_contain_text("256 MB")
    expect(details).to_contain_text("GREETING")
    expect(details).not_to_contain_text("hi there")  # env values are never shown
    shot(page, "script-job")


def test_pause_resume_and_cancel_from_the_panel(
    signed_in: Page, stack: Stack, user: Api, shot: Shot
) -> None:
    job = user.start(
        kind="agent",
        instruction="Tick for a minute",
        memory_mb=256,
        steps=[step("Tick", "for i in $(seq 1 120); do echo tick $i; sleep 0.5; done")],
    )
    page = signed_in
    page.goto(f"{stack.base_url}/dashboard/jobs/{job['id']}")
    badge = page.locator("#job-panel .badge").first
    pause = page.get_by_role("button", name="Pause")
    resume = page.get_by_role("button", name="Resume")
    cancel = page.get_by_role("button", name="Cancel")
    expect(badge).to_have_text("running", timeout=LIVE)
    expect(page.locator("#live-log")).to_contain_text("tick 2", timeout=LIVE)
    expect(resume).to_be_disabled()

    pause.click()
    expect(badge).to_have_text("paused")
    expect(pause).to_be_disabled()
    expect(resume).to_be_enabled()
    assert user.job(job["id"])["status"] == "paused"
    shot(page, "paused")

    resume.click()
    expect(badge).to_have_text("running")
    expect(pause).to_be_enabled()
    seen = page.locator("#live-log .line").count()
    expect(page.locator("#live-log .line")).not_to_have_count(seen, timeout=LIVE)  # ticks on

    cancel.click()  # confirmed in the dialog
    expect(badge).to_have_text("cancelled")
    for button in (pause, resume, cancel):
        expect(button).to_be_disabled()
    assert user.job(job["id"])["status"] == "cancelled"


def test_produced_file_opens_from_storage_and_is_in_the_library(
    signed_in: Page, stack: Stack, user: Api, shot: Shot
) -> None:
    job = user.start(
        kind="script",
        name="make-report",
        script="echo 'the answer is 42' > report.txt",
        memory_mb=256,
    )
    page = signed_in
    page.goto(f"{stack.base_url}/dashboard/jobs/{job['id']}")
    link = page.locator("#job-files").get_by_role("link", name="report.txt")
    expect(link).to_be_visible(timeout=LIVE)
    with page.expect_download() as download:
        link.click()
    with open(download.value.path()) as saved:
        assert saved.read() == "the answer is 42\n"
    # The link leads straight to storage: the gateway answers with a presigned URL.
    hop = page.request.get(f"{stack.base_url}{link.get_attribute('href')}", max_redirects=0)
    assert hop.status == 303
    assert "X-Amz-Signature=" in hop.headers["location"]
    assert not hop.headers["location"].startswith(stack.base_url)
    expect(page.locator("#unread-count")).to_be_visible(timeout=LIVE)  # the bell, live

    page.get_by_role("link", name="Files").first.click()
    row = page.locator("tr", has_text="report.txt")
    expect(row.get_by_role("link", name=re.compile("generated by make-report"))).to_have_attribute(
        "href", f"/dashboard/jobs/{job['id']}"
    )
    page.get_by_label("Kind").select_option("log")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("log")
    shot(page, "files")
    page.get_by_label("Kind").select_option("")
    page.locator("select[name=job_id]").select_option(job["id"])
    expect(page.locator("tbody tr", has_text="report.txt")).to_have_count(1)
    page.locator("tr", has_text="report.txt").get_by_role("button", name="Delete").click()
    expect(page.locator("tr", has_text="report.txt")).to_have_count(0)  # confirmed, removed
    files = user.http.get("/v1/files", params={"job_id": job["id"]}).json()["files"]
    assert "report.txt" not in [f["path"] for f in files]

    page.goto(f"{stack.base_url}/dashboard/notifications")
    expect(page.locator("#notifications")).to_contain_text("Job make-report completed")


def test_webhook_deliveries_are_listed_and_retried_from_the_notifications_page(
    signed_in: Page, stack: Stack, user: Api, shot: Shot
) -> None:
    with socket.socket() as probe:  # a port nobody listens on: every attempt is refused
        probe.bind(("127.0.0.1", 0))
        nobody = probe.getsockname()[1]
    hook = user.http.post(
        "/v1/webhooks",
        json={"url": f"http://127.0.0.1:{nobody}/hook", "event_types": ["job.completed"]},
    ).json()
    job = user.start(kind="script", name="hooked", script="echo hooked", memory_mb=256)
    deliveries = f"/v1/webhooks/{hook['id']}/deliveries"

    def failed() -> list[dict[str, Any]]:
        found = user.http.get(deliveries).json()["deliveries"]
        return [d for d in found if d["status"] == "failed"]

    deadline = time.monotonic() + 90  # the suite's retry schedule gives up after ~31 s
    while not failed():
        assert time.monotonic() < deadline, user.http.get(deliveries).json()
        time.sleep(0.5)
    [delivery] = failed()
    assert delivery["job_id"] == job["id"]
    page = signed_in
    page.goto(f"{stack.base_url}/dashboard/notifications")
    section = page.get_by_role("region", name=f"Webhook http://127.0.0.1:{nobody}/hook")
    row = section.locator("tbody tr", has_text="job.completed")
    expect(row).to_contain_text("failed")
    expect(row).to_contain_text("no answer")
    shot(page, "failed-delivery")
    row.get_by_role("button", name="Retry").click()
    expect(row.locator(".badge")).to_have_text("pending")
    again = user.http.get(deliveries).json()["deliveries"][0]
    assert (again["id"], again["status"]) == (delivery["id"], "pending")


def test_jobs_page_filters_and_rows_update_live(
    signed_in: Page, stack: Stack, user: Api, shot: Shot
) -> None:
    quick = {"memory_mb": 256}
    script = user.start(kind="script", name="alpha-report", script="echo alpha", **quick)
    agent = user.start(
        kind="agent", instruction="Beta analysis", steps=[step("One", "echo beta")], **quick
    )
    for started in (script, agent):
        user.wait(started["id"], lambda j: j["status"] in TERMINAL)
    page = signed_in
    page.goto(f"{stack.base_url}/dashboard/jobs")
    rows = page.locator("#job-list tbody tr")
    expect(rows).to_have_count(2)

    page.get_by_label("Kind").select_option("script")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("alpha-report")
    page.goto(f"{stack.base_url}/dashboard/jobs")
    page.get_by_label("Search").fill("BETA")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Beta analysis")
    page.goto(f"{stack.base_url}/dashboard/jobs")
    page.get_by_label("Status").select_option("failed")
    expect(page.locator(".empty")).to_contain_text("No jobs match")

    # A job started elsewhere shows up and moves on without a reload.
    page.goto(f"{stack.base_url}/dashboard/jobs")
    page.evaluate("window.notReloaded = true")
    slow = user.start(kind="script", name="gamma-live", script="sleep 4; echo gamma", **quick)
    row = page.locator(f'tr[data-job-id="{slow["id"]}"]')
    expect(row).to_be_visible(timeout=LIVE)
    expect(row).to_have_attribute("data-status", "running", timeout=LIVE)
    expect(row.locator("time.elapsed")).not_to_have_text("—")
    shot(page, "live")
    expect(row).to_have_attribute("data-status", "completed", timeout=LIVE)
    expect(row.locator("progress")).to_have_attribute("value", "1")
    assert page.evaluate("window.notReloaded") is True

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "phone")


def test_another_users_job_is_not_found(
    signed_in: Page, stack: Stack, other_user: Api, console: ConsoleWatch
) -> None:
    theirs = other_user.start(kind="script", name="private", script="echo secret", memory_mb=256)
    url = f"{stack.base_url}/dashboard/jobs/{theirs['id']}"
    console.allow(url)  # the page answers 404, as it should
    response: Any = signed_in.goto(url)
    assert response.status == 404
    expect(signed_in.get_by_role("heading", name="Not found")).to_be_visible()
    expect(signed_in.locator("main")).not_to_contain_text("private")
    assert signed_in.request.get(f"{stack.base_url}/v1/jobs/{theirs['id']}").status == 404

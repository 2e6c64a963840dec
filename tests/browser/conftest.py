"""The dashboard in a real browser: Debian's Chromium driven by Playwright against the running
stack (`stack` fixture). One browser for the module, a fresh context (cookies, storage) per
test; every test fails on a console error or an uncaught error in its pages, and saves
screenshots (into $JOBYARD_TEST_LOGS/screenshots when set)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from jobyard_testing.stack import Stack

CHROMIUM = os.environ.get("JOBYARD_CHROMIUM", "/usr/bin/chromium")
# Without these Chromium reaches for Google's services, which hangs on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 860}
expect.set_options(timeout=15_000)  # what a live page may take to show a change of the stack


@pytest.fixture(scope="module")
def playwright(stack: Stack) -> Iterator[Playwright]:
    """Started after the stack and stopped when this module's tests end: while it runs, its
    event loop is the thread's running loop, beside which no asyncio test (nor the stack's
    teardown) could start one."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no browser at {CHROMIUM}: `scripts/stack.sh infra` installs chromium")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    logs = os.environ.get("JOBYARD_TEST_LOGS")
    folder = Path(logs) / "screenshots" if logs else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


Shot = Callable[[Page, str], Path]


@pytest.fixture
def shot(screenshots: Path, request: pytest.FixtureRequest) -> Shot:
    """Save a full-page screenshot named after the test and the moment; prints its path."""
    test = re.sub(r"\W+", "_", request.node.name)

    def take(page: Page, moment: str) -> Path:
        path = screenshots / f"{test}--{moment}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    return take


class ConsoleWatch:
    """Console errors and uncaught exceptions of a test's pages. `allow` names the URLs whose
    failed load a test expects (a "not found" page answers 404, which Chromium logs)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[str] = []

    def allow(self, url: str) -> None:
        self.allowed.append(url)

    def console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if message.location.get("url") in self.allowed:
            return
        self.errors.append(f"console: {message.text} at {message.location}")

    def page_error(self, error: Any) -> None:
        self.errors.append(f"page error: {error}")


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()


@pytest.fixture
def page(browser: Browser, console: ConsoleWatch, shot: Shot) -> Iterator[Page]:
    context = browser.new_context(viewport=LAPTOP, accept_downloads=True)
    context.set_default_timeout(20_000)
    opened = context.new_page()
    context.on("page", lambda p: _watch(p, console))
    _watch(opened, console)
    opened.on("dialog", lambda dialog: dialog.accept())
    try:
        yield opened
        shot(opened, "end")
    finally:
        context.close()
    assert not console.errors, "errors in the page:\n" + "\n".join(console.errors)


def _watch(page: Page, console: ConsoleWatch) -> None:
    page.on("console", console.console)
    page.on("pageerror", console.page_error)


class Api:
    """A user of the stack over HTTP, to set the scene (and check it) beside the browser."""

    def __init__(self, stack: Stack, name: str) -> None:
        self.name = f"{name}-{time.monotonic_ns()}"
        self.key = stack.new_user(self.name)
        self.http = httpx.Client(
            base_url=stack.base_url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )

    def start(self, **body: Any) -> dict[str, Any]:
        response = self.http.post("/v1/jobs", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/jobs/{job_id}")
        response.raise_for_status()
        return dict(response.json())

    def wait(
        self, job_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 90
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        job = self.job(job_id)
        while not done(job):
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']}: {job['status_detail']}")
            time.sleep(0.2)
            job = self.job(job_id)
        return job


@pytest.fixture
def user(stack: Stack) -> Iterator[Api]:
    """A fresh user per test: what one test's pages show is its own."""
    api = Api(stack, "browser")
    yield api
    api.http.close()


@pytest.fixture
def other_user(stack: Stack) -> Iterator[Api]:
    api = Api(stack, "other")
    yield api
    api.http.close()


SignIn = Callable[[Page, str], None]


@pytest.fixture
def sign_in(stack: Stack) -> SignIn:
    def with_key(page: Page, api_key: str) -> None:
        page.goto(f"{stack.base_url}/dashboard/sign-in")
        page.get_by_label("API key").fill(api_key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/dashboard/jobs"))

    return with_key


@pytest.fixture
def signed_in(page: Page, user: Api, sign_in: SignIn) -> Page:
    sign_in(page, user.key)
    return page

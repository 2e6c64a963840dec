import re

import pytest

from jobyard_contracts import JobKind, JobStatus
from jobyard_gateway.dashboard.access import safe_next
from jobyard_gateway.dashboard.presenters import (
    JOBS_PER_PAGE,
    JobActions,
    JobFilter,
    Paging,
    duration,
    file_size,
)
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit


def test_the_jobs_page_query_is_the_callers_and_searches_text_not_patterns():
    query = JobFilter(status=JobStatus.RUNNING, kind=JobKind.AGENT, search=" a.b* ").query("usr_1")
    assert query["user_id"] == "usr_1"
    assert query["deleted_at"] is None
    assert (query["status"], query["kind"]) == (JobStatus.RUNNING, JobKind.AGENT)
    pattern = query["$or"][0]["name"]
    assert pattern == {"$regex": re.escape("a.b*"), "$options": "i"}
    assert query["$or"][1] == {"instruction": pattern}
    assert JobFilter().query("usr_1") == {"user_id": "usr_1", "deleted_at": None}


def test_pages_keep_their_filters():
    chosen = JobFilter(status=JobStatus.FAILED, search="x y", page=3)
    assert chosen.skip == 2 * JOBS_PER_PAGE
    assert chosen.link(2) == "status=failed&q=x+y&page=2"
    assert Paging.of(1, 0).pages == 1
    assert Paging.of(2, JOBS_PER_PAGE + 1).pages == 2


def test_buttons_follow_the_apis_rules():
    running = JobActions.of(make_job(status=JobStatus.RUNNING, host="host-a"))
    assert (running.pause, running.resume, running.end) == (True, False, True)
    paused = JobActions.of(make_job(status=JobStatus.PAUSED, host="host-a"))
    assert (paused.pause, paused.resume, paused.end) == (False, True, True)
    waiting = JobActions.of(make_job(status=JobStatus.WAITING_FOR_INPUT, host="host-a"))
    assert (waiting.pause, waiting.resume, waiting.end) == (False, False, True)
    done = JobActions.of(make_job(status=JobStatus.COMPLETED))
    assert (done.pause, done.resume, done.end) == (False, False, False)
    assert done.end_label == "Stop"
    assert JobActions.of(make_job(kind=JobKind.AGENT)).end_label == "Cancel"


def test_numbers_read_at_a_glance():
    assert file_size(512) == "512 B"
    assert file_size(1536) == "1.5 KB"
    assert file_size(5 * 1024**3) == "5.0 GB"
    assert duration(None) == "—"
    assert duration(3.21) == "3.2s"
    assert duration(65.2) == "1m 05s"
    assert duration(3725) == "1h 02m 05s"


def test_after_sign_in_only_dashboard_pages():
    assert safe_next("/dashboard/jobs/job_1?x=1") == "/dashboard/jobs/job_1?x=1"
    assert safe_next("https://evil.example/") == "/dashboard/jobs"
    assert safe_next("/dashboard//evil.example") == "/dashboard/jobs"
    assert safe_next("/v1/jobs") == "/dashboard/jobs"

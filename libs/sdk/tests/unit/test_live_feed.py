"""Following a job's live feed: where a follower resumes, when it stops, when it reads the job."""

import pytest

from jobyard import NotFoundError, ValidationError
from jobyard._agent import Refresh
from jobyard.errors import JobyardError
from jobyard.live import RECONNECT_SECONDS, FeedPosition, LiveEnd, LiveEvent, LiveLine

pytestmark = pytest.mark.unit

EVENT = {"type": "event", "seq": 3, "event": {"type": "job.started"}}
LINE = {
    "type": "line",
    "seq": 41,
    "step": 0,
    "stream": "stdout",
    "text": "hi",
    "at": "2026-01-01T00:00:00Z",
}


def test_a_follower_resumes_after_the_last_event_and_line_it_received():
    position = FeedPosition("job_1")
    assert isinstance(position.take(EVENT), LiveEvent)
    assert isinstance(position.take(LINE), LiveLine)
    assert position.path == "/v1/jobs/job_1/live?after_seq=3&after_line=41"
    assert position.closed(4408, "too slow") == 0  # resumes at once
    assert not position.ended
    assert isinstance(position.take({"type": "end", "status": "completed"}), LiveEnd)
    assert position.ended


def test_a_normal_close_ends_the_feed_and_refusals_are_errors():
    position = FeedPosition("job_1")
    position.closed(1000, "job completed")
    assert position.ended
    with pytest.raises(NotFoundError, match="job not found"):
        FeedPosition("job_2").closed(4404, "job not found")
    with pytest.raises(ValidationError):
        FeedPosition("job_2").closed(4422, "after_seq must be a whole number")


def test_reconnects_back_off_and_give_up_after_a_run_of_failures():
    position = FeedPosition("job_1")
    waits = [position.closed(1011, "internal error") for _ in RECONNECT_SECONDS]
    assert waits == list(RECONNECT_SECONDS)
    with pytest.raises(JobyardError, match="could not reconnect"):
        position.backoff()
    position.take(EVENT)  # a message resets the run
    assert position.backoff() == RECONNECT_SECONDS[0]


def test_a_follower_reads_the_job_on_events_and_on_output_only_when_following_it():
    line, event = FeedPosition("j").take(LINE), FeedPosition("j").take(EVENT)
    quiet = Refresh(output=False)
    assert quiet.due(None)  # the start
    assert quiet.due(event)
    assert not quiet.due(line)
    chatty = Refresh(output=True)
    assert chatty.due(line)
    assert not chatty.due(line)  # not again so soon
    assert not chatty.due(LiveEnd(type="end", status="completed"))  # the end is read after

"""What a viewer of an agent job sees change, and what an answer means."""

import pytest

from jobyard import ConflictError, Job
from jobyard._agent import changed, latest_output, pending_prompt, resolve_answer, waiting_on

pytestmark = pytest.mark.unit

PROMPT = {
    "id": "p-1",
    "question": "Go on?",
    "choices": ["yes", "no"],
    "asked_at": "2025-01-01T00:00:00Z",
}
MESSAGE = {"id": "m-1", "role": "agent", "text": "hello", "at": "2025-01-01T00:00:00Z"}


def test_an_answer_from_an_older_server_still_parses():
    old = {
        "id": "j",
        "name": "n",
        "status": "completed",
        "vcpus": 1,
        "memory_mb": 512,
        "created_at": "2025-01-01T00:00:00Z",
        "progress": {"completed_steps": 1, "total_steps": 1},
        "plan": [{"index": 0, "title": "main", "status": "completed"}],
    }
    job = Job.model_validate(old)
    assert (job.kind, job.instruction, job.prompt, job.messages) == ("script", "", None, [])
    assert job.progress is not None
    assert job.progress.current_step is None
    assert job.finished


def test_an_agent_job_view_parses_in_full(api):
    timeline = [api.step(0, "completed", command="ls", output_tail="a\n", duration_seconds=1.5)]
    job = Job.model_validate(
        api.job(
            status="waiting_for_input",
            prompt=PROMPT,
            messages=[MESSAGE],
            timeline=timeline,
            chat_id="c",
            some_future_field=1,
        )
    )
    assert job.prompt is not None
    assert job.prompt.choices == ["yes", "no"]
    assert job.timeline[0].command == "ls"
    assert job.messages[0].role == "agent"
    assert not job.finished
    assert not Job.model_validate(api.job(status="planning")).finished


def test_only_what_a_viewer_sees_counts_as_a_change(api):
    before = Job.model_validate(api.job())
    assert changed(None, before)
    assert not changed(before, Job.model_validate(api.job()))
    assert not changed(before, Job.model_validate(api.job(duration_seconds=9.0)))
    different = [
        {"status": "waiting_for_input"},
        {"status_detail": "resume queued"},
        {"progress": {"current_step": 1, "completed_steps": 1, "total_steps": 2}},
        {"plan": [api.step(0, "completed"), api.step(1, "pending")]},
        {"timeline": [api.step(0, "completed")]},
        {"prompt": PROMPT},
        {"messages": [MESSAGE]},
        {"summary": "done"},
    ]
    for fields in different:
        assert changed(before, Job.model_validate(api.job(**fields))), fields
    asked = Job.model_validate(api.job(prompt=PROMPT))
    assert changed(asked, Job.model_validate(api.job(prompt=PROMPT | {"answer_id": "m-2"})))


def test_a_new_message_counts_even_when_the_last_twenty_stay_twenty(api):
    window = [MESSAGE | {"id": f"m-{i}"} for i in range(20)]
    moved = [*window[1:], MESSAGE | {"id": "m-20"}]
    assert changed(
        Job.model_validate(api.job(messages=window)), Job.model_validate(api.job(messages=moved))
    )


def test_output_counts_only_when_asked(api):
    quiet = Job.model_validate(api.job(plan=[api.step(0, "running", output_tail="1\n")]))
    chatty = Job.model_validate(api.job(plan=[api.step(0, "running", output_tail="1\n2\n")]))
    assert not changed(quiet, chatty)
    assert changed(quiet, chatty, output=True)


def test_the_latest_output_is_the_running_steps_else_the_last_finished_ones(api):
    finished = api.step(0, "completed", output_tail="old\n")
    job = Job.model_validate(api.job(plan=[finished, api.step(1, "running", output_tail="new\n")]))
    assert latest_output(job) == "new\n"
    job = Job.model_validate(api.job(plan=[finished, api.step(1, "running")]))
    assert latest_output(job) == "old\n"
    job = Job.model_validate(
        api.job(plan=[finished], timeline=[api.step(0, "completed", output_tail="ran\n")])
    )
    assert latest_output(job) == "ran\n"
    assert latest_output(Job.model_validate(api.job(plan=[]))) == ""


@pytest.mark.parametrize(
    ("typed", "choices", "sent"),
    [
        ("2", ["yes", "no"], "no"),
        (" 1 ", ["yes", "no"], "yes"),
        ("3", ["yes", "no"], "3"),
        ("0", ["yes", "no"], "0"),
        ("maybe later", ["yes", "no"], "maybe later"),
        ("2", [], "2"),
        ("4", ["1", "2", "4"], "4"),  # a choice typed as itself is not a number
        ("²", ["yes", "no"], "²"),
    ],
)
def test_a_number_picks_a_choice_anything_else_is_sent_as_typed(typed, choices, sent):
    assert resolve_answer(typed, choices) == sent


def test_an_answer_goes_to_the_pending_question_or_is_refused(api):
    waiting = Job.model_validate(api.job(status="waiting_for_input", prompt=PROMPT))
    assert pending_prompt(waiting).id == "p-1"
    with pytest.raises(ConflictError, match=r"not waiting for an answer.*running"):
        pending_prompt(Job.model_validate(api.job()))


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "running", "prompt": PROMPT},  # asked earlier, the job went on
        {"status": "waiting_for_input", "prompt": PROMPT | {"answer_id": "m-2"}},
        {"status": "waiting_for_input", "prompt": None},
    ],
)
def test_a_question_is_pending_only_unanswered_while_the_job_waits(api, fields):
    job = Job.model_validate(api.job(**fields))
    assert waiting_on(job) is None
    with pytest.raises(ConflictError):
        pending_prompt(job)

import re
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from jobyard_contracts import FileKind, FileStatus, JobKind, StepStatus
from jobyard_gateway.domain.file_views import FileDetail, FileView
from jobyard_gateway.domain.files import (
    OutputsRequest,
    job_inputs,
    library_query,
    step_files_query,
)
from jobyard_gateway.domain.views import JobView
from jobyard_store.documents import JobInput, OutputsProgress
from jobyard_store.files import FileRecord, FileVersion
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit
NOW = datetime.now(UTC)


def record(file_id="file-1", **fields):
    key = f"users/usr_1/files/{file_id}/v2"
    version = FileVersion(number=2, object_key=key, size=7, sha256="c" * 64, created_at=NOW)
    base = {
        "_id": file_id,
        "user_id": "usr_1",
        "kind": FileKind.INPUT,
        "status": FileStatus.READY,
        "path": "data.csv",
        "name": "data.csv",
        "size": 7,
        "sha256": "c" * 64,
        "versions": [version],
        "created_at": NOW,
        "updated_at": NOW,
    }
    return FileRecord.model_validate(base | fields)


def output(file_id, path, step_index):
    return record(
        file_id,
        kind=FileKind.OUTPUT,
        path=path,
        name=path.rsplit("/", 1)[-1],
        job_id="job_1",
        job_name="analysis",
        job_kind=JobKind.AGENT,
        step_index=step_index,
    )


def test_the_library_is_the_callers_undeleted_files_narrowed_by_each_filter():
    assert library_query("usr_1", job_id=None, kind=None, q=None) == {
        "user_id": "usr_1",
        "deleted_at": None,
    }
    query = library_query("usr_1", job_id="job_1", kind=FileKind.OUTPUT, q="a.b (1)")
    assert (query["job_id"], query["kind"]) == ("job_1", FileKind.OUTPUT)
    name, path = query["$or"]
    assert name["name"] == path["path"]
    assert name["name"]["$options"] == "i"


@pytest.mark.parametrize(
    ("q", "matches", "misses"),
    [
        ("a.b (1)", "Results A.B (1).csv", "axb (1).csv"),
        ("*", "star*.txt", "plain.txt"),
        ("ÜBER", "über.txt", "uber.txt"),
    ],
)
def test_the_search_text_is_matched_literally_in_any_case(q, matches, misses):
    pattern = library_query("usr_1", job_id=None, kind=None, q=q)["$or"][0]["name"]["$regex"]
    assert re.search(pattern, matches, re.IGNORECASE)
    assert not re.search(pattern, misses, re.IGNORECASE)


def test_steps_show_the_ready_files_of_the_callers_jobs():
    query = step_files_query("usr_1", ["job_1", "job_2"])
    assert query == {
        "user_id": "usr_1",
        "job_id": {"$in": ["job_1", "job_2"]},
        "status": FileStatus.READY,
        "deleted_at": None,
    }


def test_inputs_are_ready_uploads_kept_with_their_latest_version():
    inputs, problems = job_inputs(["file-1"], {"file-1": record()})
    assert problems == {}
    assert inputs == [
        JobInput(
            file_id="file-1",
            name="data.csv",
            size=7,
            sha256="c" * 64,
            object_key="users/usr_1/files/file-1/v2",
        )
    ]


def test_each_input_that_is_not_a_ready_upload_of_the_caller_is_named():
    found = {
        "file-2": record("file-2", status=FileStatus.VERIFYING, versions=[]),
        "file-3": output("file-3", "out.csv", 0),
        "file-4": record("file-4"),
        "file-5": record("file-5"),
    }
    inputs, problems = job_inputs(["file-1", "file-2", "file-3", "file-4", "file-5"], found)
    assert [i.file_id for i in inputs] == ["file-4"]
    assert set(problems) == {"inputs[0]", "inputs[1]", "inputs[2]", "inputs[4]"}
    assert "no file file-1" in problems["inputs[0]"]
    assert "verifying" in problems["inputs[1]"]
    assert "output" in problems["inputs[2]"]
    assert "inputs[3] has the same name" in problems["inputs[4]"]


def test_output_rules_default_to_every_file_and_are_kept_as_given():
    assert OutputsRequest().rules().include == ["**"]
    rules = OutputsRequest(include=["results/**", "*.png"], exclude=["**/*.tmp"]).rules()
    assert (rules.include, rules.exclude) == (["results/**", "*.png"], ["**/*.tmp"])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"include": ["/etc/passwd"]}, "relative to /workspace"),
        ({"exclude": ["a/../../b"]}, "would leave /workspace"),
        ({"include": [".."]}, "would leave /workspace"),
        ({"include": [""]}, "at least 1 character"),
        ({"include": ["x" * 201]}, "at most 200 characters"),
        ({"exclude": ["*"] * 51}, "at most 50 items"),
        ({"include": ["**"], "colour": "blue"}, "Extra inputs"),
    ],
)
def test_output_patterns_stay_inside_the_workspace_and_within_bounds(fields, message):
    with pytest.raises(ValidationError, match=message):
        OutputsRequest(**fields)


def test_a_produced_file_names_the_job_that_made_it_an_upload_names_none():
    view = FileView.of(output("file-9", "results/a.csv", 1))
    assert view.generated_by is not None
    assert view.generated_by.model_dump() == {
        "kind": JobKind.AGENT,
        "job_id": "job_1",
        "job_name": "analysis",
    }
    assert (view.version, view.step_index, view.reason) == (2, 1, None)
    assert FileView.of(record()).generated_by is None


def test_a_file_without_a_version_yet_shows_version_0_and_its_rejection_reason():
    rejected = record(status=FileStatus.REJECTED, versions=[], reason="checksum mismatch")
    view = FileView.of(rejected)
    assert (view.version, view.reason) == (0, "checksum mismatch")
    detail = FileDetail.with_link(rejected, None, None)
    assert (detail.download_url, detail.url_expires_at, detail.id) == (None, None, "file-1")


def test_each_step_shows_the_files_it_produced_and_the_job_its_inputs_and_totals():
    given = JobInput(file_id="file-1", name="data.csv", size=7, sha256="c" * 64, object_key="k")
    job = make_job(steps=2, inputs=[given], files=OutputsProgress(files=3, bytes=21))
    job.steps[0] = job.steps[0].model_copy(
        update={"status": StepStatus.COMPLETED, "finished_at": NOW}
    )
    produced = [output("file-a", "a.csv", 0), output("file-b", "b.csv", 1)]
    produced.append(output("file-c", "c.csv", 0))
    view = JobView.of(job, produced)
    assert [[f.path for f in step.files] for step in view.plan] == [["a.csv", "c.csv"], ["b.csv"]]
    assert [[f.id for f in step.files] for step in view.timeline] == [["file-a", "file-c"]]
    assert view.plan[0].files[0].model_dump() == {
        "id": "file-a",
        "path": "a.csv",
        "size": 7,
        "kind": FileKind.OUTPUT,
    }
    assert [i.model_dump() for i in view.inputs] == [
        {"file_id": "file-1", "name": "data.csv", "size": 7, "path": "inputs/data.csv"}
    ]
    assert (view.files.count, view.files.bytes) == (3, 21)
    assert JobView.of(job, []).plan[0].files == []

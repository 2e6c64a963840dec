"""The output rule, what needs saving, versions and the sync record: pure rules, no storage."""

from datetime import UTC, datetime, timedelta

import pytest

from jobyard_contracts import FileKind, FileStatus, JobKind
from jobyard_file_sync.domain import outputs
from jobyard_file_sync.domain.outputs import FileStat
from jobyard_store.documents import JobInput, OutputRules, OutputsProgress
from jobyard_store.files import FileVersion
from jobyard_store.workspaces import input_mtime_ns
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit


def stat(path: str, size: int = 10, mtime_ns: int | None = None) -> FileStat:
    now = int(datetime.now(UTC).timestamp() * 1e9)
    return FileStat(path=path, size=size, mtime_ns=now if mtime_ns is None else mtime_ns)


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("results/table.csv", True),
        ("deep/er/plot.png", True),
        ("with spaces/ünïcødé.txt", True),
        (".hidden-but-mine", True),
        ("__pycache__/mod.cpython-313.pyc", False),
        ("pkg/__pycache__/mod.cpython-313.pyc", False),
        ("pkg/mod.pyc", False),
        (".cache/pip/http/blob", False),
        ("repo/.git/objects/ab/cdef", False),
        (".git/HEAD", False),
        ("notebooks/.ipynb_checkpoints/a.ipynb", False),
        ("web/node_modules/x/index.js", False),
    ],
)
def test_default_rule_keeps_what_the_job_made_minus_caches(path: str, wanted: bool) -> None:
    assert outputs.is_output(make_job(), stat(path)) is wanted


def test_a_job_tunes_the_rule_with_include_and_exclude() -> None:
    job = make_job(outputs=OutputRules(include=["results/**", "*.log"], exclude=["**/*.tmp"]))
    assert outputs.is_output(job, stat("results/a/b.csv"))
    assert outputs.is_output(job, stat("run.log"))
    assert not outputs.is_output(job, stat("results/a/b.tmp"))
    assert not outputs.is_output(job, stat("scratch/x.csv"))
    assert not outputs.is_output(job, stat("sub/run.log"))  # `*` stays in its folder


def test_inputs_as_copied_are_not_outputs_but_changed_ones_are() -> None:
    job = make_job(
        inputs=[JobInput(file_id="f1", name="data.csv", size=10, sha256="0" * 64, object_key="k")]
    )
    copied = input_mtime_ns(job)
    assert not outputs.is_output(job, stat("inputs/data.csv", 10, copied))
    assert outputs.is_output(job, stat("inputs/data.csv", 10, copied + 1))  # touched by the job
    assert outputs.is_output(job, stat("inputs/data.csv", 11, copied))
    assert outputs.is_output(job, stat("inputs/new.csv", 10, copied))


def test_a_stateful_workspace_counts_only_what_changed_since_admission() -> None:
    admitted = datetime.now(UTC) - timedelta(minutes=5)
    job = make_job(stateful=True, admitted_at=admitted)
    before = int((admitted - timedelta(hours=1)).timestamp() * 1e9)
    assert not outputs.is_output(job, stat("old-run.csv", mtime_ns=before))
    assert outputs.is_output(job, stat("this-run.csv"))


def test_a_file_is_saved_once_settled_and_again_when_it_changes() -> None:
    now = datetime.now(UTC)
    fresh = stat("a.bin", mtime_ns=int(now.timestamp() * 1e9))
    assert not outputs.settled(fresh, now, timedelta(seconds=2))
    assert outputs.settled(fresh, now + timedelta(seconds=2), timedelta(seconds=2))
    job = make_job()
    record = outputs.new_record(job, FileKind.OUTPUT, "a.bin", now)
    assert outputs.needs_saving(None, fresh)
    saved, dropped = outputs.with_version(record, version(1), fresh.source, max_versions=2)
    assert not outputs.needs_saving(saved, fresh)
    assert outputs.needs_saving(saved, stat("a.bin", size=11, mtime_ns=fresh.mtime_ns))
    assert dropped == []


def test_the_files_waiting_are_the_outputs_changed_since_last_seen_saved() -> None:
    job = make_job()
    saved, changed, new = stat("a.csv", size=1), stat("b.csv", size=2), stat("c.csv")
    cache = stat("__pycache__/m.pyc")
    seen_saved = {"a.csv": saved, "b.csv": stat("b.csv", size=1)}
    assert outputs.unsaved(job, [saved, changed, new, cache], seen_saved) == [changed, new]
    # After a restart nothing was seen saved: every output waits until the store is asked.
    assert outputs.unsaved(job, [saved, changed, cache], {}) == [saved, changed]


def version(number: int) -> FileVersion:
    return FileVersion(
        number=number,
        object_key=f"k/v{number}",
        size=number,
        sha256=f"{number:064x}",
        step_index=0,
        created_at=datetime.now(UTC),
    )


def test_versions_beyond_the_kept_number_lose_their_objects() -> None:
    record = outputs.new_record(make_job(), FileKind.OUTPUT, "a.bin", datetime.now(UTC))
    for number in (1, 2, 3):
        record, dropped = outputs.with_version(record, version(number), None, max_versions=2)
    assert [v.number for v in record.versions] == [2, 3]
    assert dropped == ["k/v1"]
    assert record.size == 3
    assert record.status is FileStatus.READY


def test_a_rejected_file_says_why_and_keeps_earlier_versions_listed() -> None:
    job = make_job(kind=JobKind.AGENT)
    record = outputs.new_record(job, FileKind.OUTPUT, "huge.bin", datetime.now(UTC))
    big = stat("huge.bin", size=6 * 1024**3)
    reason = outputs.too_big_reason(big.size, 5 * 1024**3)
    assert reason == "6.00 GiB is over the 5.00 GiB limit per file"
    refused = outputs.rejected(record, big, reason, datetime.now(UTC))
    assert (refused.status, refused.size, refused.reason) == (FileStatus.REJECTED, big.size, reason)
    assert not outputs.needs_saving(refused, big)  # not tried again until it changes
    kept, _ = outputs.with_version(record, version(1), None, max_versions=3)
    assert outputs.rejected(kept, big, reason, datetime.now(UTC)).status is FileStatus.READY
    assert record.job_kind is JobKind.AGENT


def test_the_sync_record_is_idempotent_and_final_once() -> None:
    job = make_job()
    change = outputs.synced(job, 0, False, files=2, total_bytes=30)
    assert change is not None
    assert change.job.files == OutputsProgress(synced_step=0, files=2, bytes=30)
    assert outputs.synced(change.job, 0, False, 2, 30) is None
    final = outputs.synced(change.job, 0, True, 3, 40)
    assert final is not None
    assert final.job.files.final_synced
    assert outputs.synced(final.job, 0, True, 3, 40) is None


def test_script_files_are_named_after_their_steps() -> None:
    job = make_job(steps=2)
    job = job.with_step(1, title="Fit the model / plot!", command="python fit.py")
    assert outputs.script_path(job, 1) == "steps/02-Fit-the-model-plot.sh"
    assert outputs.script_text(job, 1) == "python fit.py"
    assert outputs.script_text(job, 0) == "echo 0"


def test_a_sync_is_wanted_while_asked_and_not_done() -> None:
    job = make_job()
    assert not outputs.sync_wanted(job)
    asked = job.model_copy(update={"files": OutputsProgress(requested_step=1, synced_step=0)})
    assert outputs.sync_wanted(asked)
    done = job.model_copy(update={"files": OutputsProgress(requested_step=1, synced_step=1)})
    assert not outputs.sync_wanted(done)
    final = done.model_copy(
        update={"files": done.files.model_copy(update={"final_requested": True})}
    )
    assert outputs.sync_wanted(final)

import pytest
from pydantic import ValidationError

from jobyard_contracts import JobStatus
from jobyard_gateway.domain.job_requests import CreateJob, limit_violations, plan_job
from jobyard_gateway.settings import JobLimits
from jobyard_store.documents import JobInput

pytestmark = pytest.mark.unit
LIMITS = JobLimits(max_vcpus=4, max_memory_mb=1024, max_timeout_seconds=60, max_script_bytes=10)


def test_limits_name_each_field_they_exceed():
    request = CreateJob(name="a", script="x" * 11, vcpus=5, memory_mb=2048, timeout=61)
    assert set(limit_violations(request, LIMITS)) == {"vcpus", "memory_mb", "timeout", "script"}
    assert limit_violations(CreateJob(name="a", script="echo"), LIMITS) == {}


def test_env_names_must_be_valid_shell_identifiers():
    with pytest.raises(ValidationError, match="1BAD"):
        CreateJob(name="a", script="x", env={"1BAD": "v"})


def test_a_script_job_is_a_one_step_plan_and_its_event_holds_no_env_values():
    request = CreateJob(name="a", script="echo hi", env={"TOKEN": "secret"}, timeout=5)
    job, submitted = plan_job(request, "usr_1", [])
    assert job.status is JobStatus.PENDING
    assert len(job.steps) == 1
    assert job.steps[0].script == "echo hi"
    assert job.env == {"TOKEN": "secret"}
    assert job.resources.timeout_seconds == 5
    assert "secret" not in submitted.model_dump_json()


def test_a_job_keeps_its_inputs_and_output_rules():
    request = CreateJob(
        name="a",
        script="ls /workspace/inputs",
        inputs=["file-1"],
        outputs={"include": ["results/**"], "exclude": ["*.tmp"]},
    )
    given = JobInput(file_id="file-1", name="d.csv", size=1, sha256="c" * 64, object_key="k")
    job, _ = plan_job(request, "usr_1", [given])
    assert job.inputs == [given]
    assert (job.outputs.include, job.outputs.exclude) == (["results/**"], ["*.tmp"])
    default, _ = plan_job(CreateJob(name="a", script="echo"), "usr_1", [])
    assert (default.inputs, default.outputs.include, default.outputs.exclude) == ([], ["**"], [])

"""The `jobyard` command line against the real stack."""

import itertools
import json
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture
def cli(stack):
    created = stack.cli("users", "create", f"cli-{time.monotonic_ns()}")
    key = created.stdout.strip()
    assert key.startswith("jy_")
    return lambda *args, check=True: stack.cli(*args, api_key=key, check=check)


def test_create_wait_status_logs_list_delete(cli):
    created = cli(
        "create", "hello", "--script", "for i in 1 2 3; do echo n$i; done", "--wait", "--json"
    )
    job = json.loads(created.stdout)
    assert job["status"] == "completed"
    assert cli("logs", job["id"], "--tail", "2").stdout == "n2\nn3\n"
    assert "completed" in cli("status", job["id"]).stdout
    listed = json.loads(cli("list", "--json", "--name", "hello").stdout)
    assert [j["id"] for j in listed] == [job["id"]]
    assert job["id"] in cli("list").stdout
    assert cli("delete", job["id"]).stdout.strip() == f"deleted {job['id']}"
    gone = cli("status", job["id"], check=False)
    assert gone.returncode == 1
    assert "not found" in gone.stderr


def test_follow_prints_output_live_and_fails_with_the_job(cli):
    followed = cli(
        "create", "steps", "-s", "echo one; sleep 1; echo two; exit 3", "--follow", check=False
    )
    assert followed.returncode == 1
    assert followed.stdout.startswith("one\ntwo\n")
    assert "exit code 3" in followed.stdout


def test_errors_are_one_clear_line(cli):
    bad = cli("create", "bad", "-s", "true", "--vcpus", "0", check=False)
    assert bad.returncode == 1
    assert "vcpus" in bad.stderr
    assert "Traceback" not in bad.stderr
    job = json.loads(cli("create", "x", "-s", "true", "--wait", "--json").stdout)
    again = cli("stop", job["id"], check=False)
    assert again.returncode == 1
    assert "already completed" in again.stderr
    not_persistent = cli("ssh", job["id"], check=False)
    assert not_persistent.returncode == 1
    assert "not persistent" in not_persistent.stderr


def test_env_and_file_options(cli, tmp_path):
    script = tmp_path / "job.sh"
    script.write_text('echo "$GREETING from a file"\n')
    done = json.loads(
        cli("create", "f", "--file", str(script), "-e", "GREETING=hi", "--wait", "--json").stdout
    )
    assert cli("logs", done["id"]).stdout == "hi from a file\n"


def test_agent_follow_json_prints_one_line_per_change_and_fails_with_the_job(cli):
    started = cli("agent", "start", "Two steps", "--step", "One::echo one; sleep 4",
                  "--step", "Fail::exit 3", "--detach", "--json")  # fmt: skip
    job_id = json.loads(started.stdout)["id"]
    followed = cli("agent", "follow", job_id, "--json", check=False)  # the live feed drives it
    printed = followed.stdout.splitlines()
    statuses = [json.loads(line)["status"] for line in printed]
    assert statuses[-1] == "failed"
    assert "running" in statuses
    assert all(a != b for a, b in itertools.pairwise(printed))  # a line per change, no repeats
    assert followed.returncode == 1

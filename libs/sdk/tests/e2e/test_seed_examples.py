"""Every example of seed 002 (the Magpie jobs API), changed only in the import line and the
client construction, run against the real stack; then what the text promises is asserted."""

import subprocess
import time

import pytest

from jobyard import Jobyard as Magpie  # was: from magpie import Magpie
from jobyard import NotFoundError

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def client(stack, jobyard_home):
    """A fresh user per example (each holds its own 3 concurrency slots)."""
    api_key = stack.new_user(f"seed-{time.monotonic_ns()}")
    client = Magpie(api_key=api_key, base_url=stack.base_url)  # was: Magpie(api_key="...")
    yield client
    for job in client.jobs.list():
        if job.status in ("pending", "running"):
            client.jobs.stop(job.id)
    client.close()


def test_create(client, capsys):
    # Create an ephemeral job
    job = client.jobs.create(
        name="data-processor", script="python process_data.py", vcpus=4, memory_mb=2048
    )
    print(f"Job ID: {job.id}")
    print(f"Status: {job.status}")
    # Create a stateful job with environment variables
    stateful_job = client.jobs.create(
        name="ml-training",
        script="""
    pip install torch
    python train.py --epochs 100
    """,
        vcpus=8,
        memory_mb=16384,
        stateful=True,
        env={"MODEL_PATH": "/workspace/models", "DATASET": "imagenet"},
        timeout=3600,
    )
    # Create a persistent VM
    persistent_vm = client.jobs.create(
        name="dev-environment",
        script="echo 'VM ready for development'",
        vcpus=2,
        memory_mb=4096,
        persistent=True,
    )

    assert f"Job ID: {job.id}" in capsys.readouterr().out
    assert job.status == "pending"
    assert job.vcpus == 4
    assert job.memory_mb == 2048
    assert stateful_job.stateful
    assert stateful_job.timeout == 3600
    assert stateful_job.env_keys == ["DATASET", "MODEL_PATH"]
    assert persistent_vm.persistent
    # The scripts refer to files that do not exist here: they fail like they would anywhere.
    assert client.jobs.wait(job.id, poll_interval=0.5).status == "failed"
    assert client.jobs.wait(stateful_job.id, poll_interval=0.5).status == "failed"
    for _ in range(100):
        if client.jobs.get_status(persistent_vm.id) == "running":
            break
        time.sleep(0.2)
    assert client.jobs.get_status(persistent_vm.id) == "running"


def test_run_and_wait(client, capsys):
    # Run a job and wait for completion
    job = client.jobs.run_and_wait(
        name="batch-report",
        script="""
    echo 'Generating report...'
    python generate_report.py
    echo 'Report complete!'
    """,
        vcpus=2,
        memory_mb=1024,
        poll_interval=10,
    )
    print(f"Job finished with status: {job.status}")
    # Get the logs after completion
    logs = client.jobs.get_logs(job.id)
    print(logs)

    assert job.status == "completed"  # the last command of the script succeeded
    assert "Generating report...\n" in logs
    assert logs.endswith("Report complete!\n")
    assert "generate_report.py': [Errno 2] No such file or directory" in logs


def test_get(client, capsys):
    created = client.jobs.create(name="inspect-me", script="true", vcpus=2, memory_mb=768)
    # Get job details
    job = client.jobs.get(created.id)  # the seed uses "job_abc123xyz"
    print(f"Job Name: {job.name}")
    print(f"Status: {job.status}")
    print(f"vCPUs: {job.vcpus}")
    print(f"Memory: {job.memory_mb} MB")
    print(f"Created: {job.created_at}")
    print(f"Stateful: {job.stateful}")
    print(f"Persistent: {job.persistent}")

    out = capsys.readouterr().out
    assert "Job Name: inspect-me" in out
    assert "vCPUs: 2" in out
    assert "Memory: 768 MB" in out
    assert "Stateful: False" in out
    assert "Persistent: False" in out


def test_get_status(client, capsys):
    # Create a job
    job = client.jobs.create(
        name="long-task", script="sleep 60 && echo 'Done!'", vcpus=1, memory_mb=512
    )
    # Poll for status
    while True:
        status = client.jobs.get_status(job.id)
        print(f"Current status: {status}")
        if status in ["completed", "failed", "stopped"]:
            break
        time.sleep(5)

    out = capsys.readouterr().out
    assert "Current status: pending" in out or "Current status: running" in out
    assert out.rstrip().endswith("Current status: completed")
    assert client.jobs.get_logs(job.id) == "Done!\n"


def test_get_logs(client, capsys):
    done = client.jobs.run_and_wait(
        name="chatty", script="for i in $(seq 1 80); do echo line $i; done", poll_interval=1
    )
    job_id = done.id  # the seed uses "job_abc123xyz"
    # Get all logs
    logs = client.jobs.get_logs(job_id)
    print("Complete logs:")
    print(logs)
    # Get only the last 50 lines
    recent_logs = client.jobs.get_logs(job_id, tail=50)
    print("\nLast 50 lines:")
    print(recent_logs)
    # Monitor logs for a running job
    job = client.jobs.create(
        name="log-generator",
        script="""
    for i in {1..10}; do
    echo "Processing item $i"
    sleep 2
    done
    """,
        vcpus=1,
        memory_mb=512,
    )
    import time

    time.sleep(5)
    logs = client.jobs.get_logs(job.id)
    print(f"Current output:\n{logs}")

    assert recent_logs.splitlines() == [f"line {i}" for i in range(31, 81)]
    assert len(client.jobs.get_logs(job_id).splitlines()) == 80
    partial = logs.splitlines()
    assert 1 <= len(partial) < 10
    assert partial == [f"Processing item {i}" for i in range(1, len(partial) + 1)]


def test_ssh(client, capsys):
    # Create a persistent VM
    vm = client.jobs.create(
        name="interactive-dev", script="echo 'VM ready'", vcpus=4, memory_mb=8192, persistent=True
    )
    # Wait for VM to be ready
    import time

    while client.jobs.get_status(vm.id) != "running":
        time.sleep(2)
    # Get SSH connection details
    ssh_info = client.jobs.ssh(vm.id)
    print(f"Host: {ssh_info.host}")
    print(f"Port: {ssh_info.port}")
    print(f"Username: {ssh_info.username}")
    print(f"\nConnect with:\n{ssh_info.command}")

    assert ssh_info.username == "sandbox"
    assert ssh_info.command.startswith("ssh ")
    assert login(ssh_info.command, "echo hello from $(whoami) in $(pwd)") == (
        "hello from sandbox in /home/sandbox"
    )


def login(command: str, remote: str) -> str:
    """Run the ready-made command with a real OpenSSH client (retrying while sshd starts)."""
    options = "-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    for _ in range(50):
        result = subprocess.run(
            f"{command} {options} '{remote}'", shell=True, capture_output=True, text=True
        )
        if result.returncode == 0:
            return result.stdout.strip()
        time.sleep(0.2)
    raise AssertionError(f"ssh failed: {result.stderr}")


def test_stop(client, capsys):
    # Create a long-running job
    job = client.jobs.create(
        name="background-task",
        script="while true; do echo 'Working...'; sleep 10; done",
        vcpus=1,
        memory_mb=512,
        persistent=True,
    )
    # Work with the job...
    import time

    time.sleep(30)
    # Stop the job when done
    result = client.jobs.stop(job.id)
    print(f"Job stopped: {result}")
    # Verify status
    status = client.jobs.get_status(job.id)
    print(f"Current status: {status}")  # Output: stopped

    assert status == "stopped"
    assert "Current status: stopped" in capsys.readouterr().out
    assert client.jobs.get_logs(job.id).startswith("Working...\nWorking...\n")


def test_delete(client, capsys):
    # Create a temporary job
    job = client.jobs.create(
        name="temp-calculation", script="echo 'Quick calculation'", vcpus=1, memory_mb=512
    )
    # Wait for completion
    job = client.jobs.run_and_wait(
        name="temp-calculation", script="echo 'Quick calculation'", vcpus=1, memory_mb=512
    )
    # Get logs before deletion
    logs = client.jobs.get_logs(job.id)
    print(f"Final output: {logs}")
    # Delete the job
    result = client.jobs.delete(job.id)
    print(f"Job deleted: {result}")
    # Attempting to get the job now will raise an error
    try:
        client.jobs.get(job.id)
    except Exception as e:
        print(f"Error: {e}")  # Job not found

    out = capsys.readouterr().out
    assert "Final output: Quick calculation" in out
    assert f"Error: job {job.id} not found" in out
    with pytest.raises(NotFoundError):
        client.jobs.get_logs(job.id)

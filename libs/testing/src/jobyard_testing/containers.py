"""A job's Docker containers as the host names them (`<namespace>-<job>-g<generation>`).

Found by name, not by label: a warm pool member claimed by a job keeps the labels it was
created with (Docker cannot relabel a container) and takes the job's name."""

import subprocess


def job_containers(namespace: str, job_id: str) -> dict[str, str]:
    """Every container of the job, running or not: name -> state (`running`, `paused`, ...)."""
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            f"name={namespace}-{job_id}-g",
            "--format",
            "{{.Names}} {{.State}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split(maxsplit=1) for line in out.splitlines())


def remove_namespace_containers(namespace: str) -> None:
    """Every container a namespace's hosts made (job sandboxes and pool members), gone."""
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=jobyard.namespace={namespace}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)

"""`jobyard files ...` and `--input` against the fake gateway and its storage: output, exit
codes, what was uploaded before a job was created, and progress bars only on terminals."""

import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from jobyard import _cli, cli, cli_agent, cli_files
from jobyard.cli import app

pytestmark = pytest.mark.unit

DATA = b"city,sales\nLyon,12\n" * 100  # 1900 bytes: two parts of the fake's 1024


@pytest.fixture(autouse=True)
def jobyard(monkeypatch, sdk_client):
    for module in (cli, cli_agent, cli_files):
        monkeypatch.setattr(module, "client", lambda: sdk_client)


@pytest.fixture
def local(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_bytes(DATA)
    return path


@pytest.fixture
def wide(monkeypatch):
    """A console wide enough that table cells are not wrapped."""
    monkeypatch.setattr(cli_files, "out", Console(width=200))


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def test_files_lists_a_table_with_sizes_and_who_made_each(gateway, api, wide):
    made_by = {"kind": "script", "job_id": api.job_id, "job_name": "nightly"}
    gateway.files.serve(DATA, kind="output", path="out/sales.csv", generated_by=made_by)
    result = invoke("files", "--job", api.job_id, "--kind", "output", "--q", "sales")
    assert result.exit_code == 0, result.output
    for shown in (api.file_id, "out/sales.csv", "1.9 kB", "output", "ready", "script job nightly"):
        assert shown in result.stdout
    assert gateway.files.listed == [
        ("/v1/files", {"job_id": api.job_id, "kind": "output", "q": "sales", "limit": "100"})
    ]


def test_files_json_and_rejection_reasons(gateway, wide):
    gateway.files.view |= {"status": "rejected", "reason": "too large"}
    assert "rejected: too large" in invoke("files").stdout
    listed = invoke("files", "--json", "--limit", "5")
    assert [file["id"] for file in json.loads(listed.stdout)] == ["file-1"]
    assert gateway.files.listed[-1][1] == {"limit": "5"}


def test_upload_prints_only_the_new_id(gateway, local):
    result = invoke("files", "upload", str(local), "--name", "q1.csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == "file-1\n"
    assert gateway.files.stored == DATA
    assert gateway.files.created[0]["name"] == "q1.csv"
    assert result.stderr == ""  # no progress bar off a terminal


def test_upload_of_a_missing_file_is_a_usage_error(gateway, tmp_path):
    result = invoke("files", "upload", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2
    assert gateway.files.created == []


def test_upload_over_the_quota_is_one_line_and_exit_1(gateway, local):
    gateway.files.quota = 10
    result = invoke("files", "upload", str(local))
    assert result.exit_code == 1
    assert "storage quota exceeded" in result.stderr
    assert "Traceback" not in result.stderr


def test_download_saves_and_prints_the_path(gateway, tmp_path):
    gateway.files.serve(DATA)
    target = tmp_path / "copy.csv"
    result = invoke("files", "download", "file-1", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{target}\n"
    assert target.read_bytes() == DATA


def test_a_corrupted_download_exits_1_and_leaves_nothing(gateway, tmp_path):
    gateway.files.serve(DATA)
    gateway.files.corrupt = True
    result = invoke("files", "download", "file-1", "-o", str(tmp_path / "copy.csv"))
    assert result.exit_code == 1
    assert "SHA-256" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_delete(gateway):
    result = invoke("files", "delete", "file-1")
    assert (result.exit_code, result.stdout) == (0, "deleted file-1\n")
    assert gateway.files.deleted == ["file-1"]


def test_create_uploads_local_inputs_then_gives_the_job_every_id(gateway, local):
    result = invoke(
        "create", "count", "-s", "wc -l inputs/*", "--input", str(local),
        "--input", "file-earlier", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert gateway.files.stored == DATA
    (_, path, body) = gateway.requests[-1]
    assert path == "/v1/jobs"
    assert body["inputs"] == ["file-1", "file-earlier"]


def test_an_input_neither_local_nor_an_id_is_refused_before_any_upload(gateway, local):
    result = invoke("create", "count", "-s", "true", "--input", str(local), "--input", "nope")
    assert result.exit_code == 2
    assert "neither a local file nor a file id" in result.output
    assert (gateway.files.created, gateway.requests) == ([], [])


def test_agent_start_takes_inputs_too(gateway, local):
    result = invoke("agent", "start", "tidy", "--input", str(local), "--detach", "--json")
    assert result.exit_code == 0, result.output
    assert gateway.requests[-1][2]["inputs"] == ["file-1"]


def test_transfers_show_a_progress_bar_when_stderr_is_a_terminal(monkeypatch, gateway, local):
    terminal = io.StringIO()
    monkeypatch.setattr(_cli, "err", Console(file=terminal, force_terminal=True, width=100))
    assert invoke("files", "upload", str(local)).exit_code == 0
    assert "upload sales.csv" in terminal.getvalue()
    assert "1.9/1.9 kB" in terminal.getvalue()

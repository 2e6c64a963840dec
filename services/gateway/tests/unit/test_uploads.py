from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from jobyard_contracts import FileKind, FileStatus
from jobyard_gateway.domain.uploads import (
    S3_MAX_PARTS,
    PartETag,
    StartUpload,
    new_upload,
    parts_problem,
    plan_upload,
    quota_problem,
    size_mismatch,
    upload_violations,
)
from jobyard_objects import FileLimits, MiB

pytestmark = pytest.mark.unit
SHA = "ab" * 32


def upload(**fields):
    return StartUpload(**({"name": "data.csv", "size": 10, "sha256": SHA} | fields))


@pytest.mark.parametrize(
    "name",
    ["data.csv", "a b c.txt", "Ärger über ünïcode.csv", "é" * 127 + "a", ".hidden", "..x"],
)
def test_file_names_may_hold_spaces_unicode_and_255_bytes(name):
    assert upload(name=name).name == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "1 to 255 bytes"),
        ("é" * 128, "1 to 255 bytes"),
        ("a" * 256, "1 to 255 bytes"),
        ("dir/data.csv", "no `/`"),
        ("a\0b", "NUL"),
        (".", "not file names"),
        ("..", "not file names"),
    ],
)
def test_a_name_that_is_no_file_name_is_refused_with_the_reason(name, message):
    with pytest.raises(ValidationError, match=message) as raised:
        upload(name=name)
    assert raised.value.errors()[0]["loc"] == ("name",)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"sha256": SHA.upper()}, "sha256"),
        ({"sha256": SHA[:-1]}, "sha256"),
        ({"size": -1}, "size"),
        ({"content_type": "not a type"}, "content_type"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_other_fields_are_checked(fields, field):
    with pytest.raises(ValidationError) as raised:
        upload(**fields)
    assert raised.value.errors()[0]["loc"] == (field,)


def test_content_types_may_carry_parameters():
    assert upload(content_type="text/csv; charset=utf-8").content_type.startswith("text/csv")
    assert upload().content_type == "application/octet-stream"


def test_a_file_over_the_size_limit_is_refused_naming_size():
    limits = FileLimits(max_file_bytes=100)
    assert upload_violations(upload(size=100), limits) == {}
    assert "at most 100 bytes" in upload_violations(upload(size=101), limits)["size"]


def test_the_quota_counts_what_is_used_and_what_the_upload_needs():
    assert quota_problem(used=60, size=40, quota=100) is None
    problem = quota_problem(used=61, size=40, quota=100)
    assert problem is not None
    assert "61 bytes of your 100" in problem
    assert "needs 40 more" in problem


def test_a_file_up_to_one_part_goes_in_one_post():
    assert plan_upload(0, 64 * MiB).part_size is None
    assert plan_upload(64 * MiB, 64 * MiB).part_size is None


def test_a_larger_file_goes_in_parts_of_the_configured_size_the_last_one_shorter():
    size = 70 * 1024 * 1024
    plan = plan_upload(size, 64 * MiB)
    assert (plan.part_size, plan.parts) == (64 * MiB, 2)
    assert size - plan.part_size * (plan.parts - 1) == 6 * MiB
    five_gib = plan_upload(5 * 1024**3, 64 * MiB)
    assert (five_gib.part_size, five_gib.parts) == (64 * MiB, 80)


def test_parts_grow_rather_than_pass_the_storage_limit_on_their_number():
    plan = plan_upload(S3_MAX_PARTS * 5 * MiB + 1, 5 * MiB)
    assert plan.parts <= S3_MAX_PARTS
    assert plan.part_size is not None
    assert plan.part_size * plan.parts >= S3_MAX_PARTS * 5 * MiB + 1


def test_a_new_upload_is_an_input_in_status_uploading_under_its_own_name():
    expires = datetime.now(UTC)
    plan = plan_upload(100 * MiB, 64 * MiB)
    record = new_upload(upload(size=100 * MiB), "usr_1", plan.pending(expires, "mp-1"))
    assert (record.kind, record.status) == (FileKind.INPUT, FileStatus.UPLOADING)
    assert (record.name, record.path, record.size, record.sha256) == (
        "data.csv",
        "data.csv",
        100 * MiB,
        SHA,
    )
    assert record.upload is not None
    assert (record.upload.multipart_id, record.upload.parts) == ("mp-1", 2)
    assert record.version is None
    assert record.object_key(1).startswith("users/usr_1/files/")


def test_completing_lists_every_part_once_and_only_for_multipart_uploads():
    expires = datetime.now(UTC)
    post = plan_upload(10, 64 * MiB).pending(expires)
    multipart = plan_upload(130 * MiB, 64 * MiB).pending(expires, "mp-1")
    parts = [PartETag(number=n, etag=f'"e{n}"') for n in (3, 1, 2)]
    assert parts_problem(post, []) is None
    assert parts_problem(None, []) is None
    assert "without parts" in (parts_problem(post, parts) or "")
    assert parts_problem(multipart, parts) is None
    assert "each of the 3 parts" in (parts_problem(multipart, parts[:2]) or "")
    assert parts_problem(multipart, [*parts, parts[0]]) is not None
    assert parts_problem(multipart, []) is not None


def test_a_size_other_than_declared_is_a_mismatch():
    assert size_mismatch(10, 10) is None
    assert size_mismatch(10, 12) == "size mismatch: 12 bytes arrived, 10 were declared"

"""SSH keys for persistent jobs, made and kept on the user's machine.

The private key never leaves it: only the public key is sent with the job. Keys live in
`~/.jobyard/ssh/` (or `$JOBYARD_HOME/ssh/`), one per job, readable by the user only.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def key_dir() -> Path:
    return Path(os.environ.get("JOBYARD_HOME", Path.home() / ".jobyard")) / "ssh"


def new_key_pair() -> tuple[bytes, str]:
    """(private key in OpenSSH format, public key line)."""
    private = Ed25519PrivateKey.generate()
    private_bytes = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private_bytes, public.decode() + " jobyard"


def save_private_key(job_id: str, private_key: bytes) -> Path:
    directory = key_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / job_id
    path.touch(mode=0o600, exist_ok=True)
    path.write_bytes(private_key)
    return path


def private_key_path(job_id: str) -> Path | None:
    path = key_dir() / job_id
    return path if path.exists() else None


def ssh_command(host: str, port: int, username: str, job_id: str) -> str:
    key = private_key_path(job_id)
    identity = f"-i {key} -o IdentitiesOnly=yes " if key else ""
    return f"ssh {identity}-p {port} {username}@{host}"

"""The key that signs session cookies and password-reset tokens."""

from __future__ import annotations

import os
import secrets

from ebok.settings import Settings


def load_secret_key(settings: Settings) -> str:
    """EBOK_SECRET_KEY, or a key generated on first start and kept (mode 0600) in the data dir,
    so that sessions survive a restart without anyone having to invent a secret."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.secret_key_file
    try:
        key = path.read_text("utf-8").strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key.encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link() fails if another process won the race; then its key is the one to use.
        os.link(tmp, path)
    except FileExistsError:
        key = path.read_text("utf-8").strip()
    finally:
        tmp.unlink(missing_ok=True)
    return key

"""How every `ebok` command reports a problem: one line on stderr, and the exit status."""

from __future__ import annotations

import sys


def fail(message: str) -> int:
    """Say why the command failed; returns the exit status for the handler to return."""
    print(f"error: {message}", file=sys.stderr)
    return 1


def warn(message: str) -> None:
    """Something the operator should know that does not stop the command."""
    print(f"warning: {message}", file=sys.stderr)


def note(message: str) -> None:
    """Progress or side effects worth a line on stderr, kept out of the command's output."""
    print(message, file=sys.stderr)

"""Running `ebok` in-process the way a manager types it, and reading what it printed."""

from __future__ import annotations

import re

from ebok.cli import main
from ebok.settings import Settings


def ebok(settings: Settings, *args: str) -> int:
    return main(["--data-dir", str(settings.data_dir), *args])


def one_time_password(output: str) -> str:
    return re.search(r"one-time password: (\S+)", output).group(1)

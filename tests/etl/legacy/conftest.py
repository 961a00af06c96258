"""Fixtures of the legacy export's tests; the exports themselves are built by
tests/etl/legacy_builders.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.etl.legacy_builders import communities_toml


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    return communities_toml(tmp_path / "communities.toml")

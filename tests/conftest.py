"""Shared fixtures. Builders for data live in tests/builders.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from ebok.settings import Settings
from etl.store import SnapshotStore


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on an empty data dir of this test's own, untouched by the environment."""
    data = tmp_path / "data"
    data.mkdir()
    return Settings.from_env({}, data_dir=data, secret_key="test-secret-key-0123456789abcdef")


@pytest.fixture
def store(settings: Settings) -> SnapshotStore:
    return SnapshotStore(settings.snapshots_dir)

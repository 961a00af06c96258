"""Fixtures of the accounts tests: an account service on the test's data dir."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ebok.settings import Settings
from portal.accounts.service import Accounts


@pytest.fixture
def accounts(settings: Settings) -> Iterator[Accounts]:
    service = Accounts(settings.accounts_database)
    yield service
    service.close()

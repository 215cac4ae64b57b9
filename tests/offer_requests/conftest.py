"""Fixtures of the offer-request tests."""

from __future__ import annotations

import httpx
import pytest

from allmende.core.db import Database
from tests.support.offers import Opened, opened


@pytest.fixture
async def world(client: httpx.AsyncClient, database: Database) -> Opened:
    """A request open for offers: a municipality asked the vendor of a published solution."""
    return await opened(client, database)

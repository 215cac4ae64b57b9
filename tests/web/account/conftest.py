"""A browser tab for the account pages: like the ``page`` fixture it fails on any script or CSP error,
except the statuses these pages answer on purpose (a form with errors 422, a used link 410), which
Chromium logs as failed loads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.web import LiveServer

EXPECTED = ("422 (Unprocessable Entity)", "410 (Gone)")


@pytest.fixture
async def tab(browser: Any, live_server: LiveServer) -> AsyncIterator[Any]:
    context = await browser.new_context(
        base_url=live_server.url, locale="de-DE", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    page = await context.new_page()
    problems: list[str] = []

    def console(message: Any) -> None:
        loaded = message.text.startswith("Failed to load resource") and message.text.endswith(EXPECTED)
        if message.type == "error" and not loaded:
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    await context.close()
    assert problems == [], problems

"""Helpers for the browser tests: sign in, walk by keyboard, run axe-core, take screenshots."""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.support.factories import PASSWORD, live_secret, next_code, next_code_sync

# WCAG 2.0 and 2.1, levels A and AA: the audit BITV 2.0 asks for.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@cache
def axe_source() -> str:
    """axe-core as shipped inside the axe-playwright-python wheel (read as a file: no download, no CDN)."""
    spec = importlib.util.find_spec("axe_playwright_python")
    assert spec is not None and spec.origin is not None, "uv sync --dev installs axe-playwright-python"
    return (Path(spec.origin).parent / "axe.min.js").read_text(encoding="utf-8")


async def audit(page: Page) -> list[dict[str, Any]]:
    """The axe-core violations of the current page for the WCAG 2.1 A/AA rules."""
    await page.evaluate(axe_source())
    result = await page.evaluate(
        "options => axe.run(document, options)",
        {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['html'][:200]}")
            lines.append(f"        {node.get('failureSummary', '')[:300]}")
    return "\n".join(lines)


async def assert_accessible(page: Page, name: str, screenshots: Path) -> None:
    """Zero axe violations, and a screenshot of the page under test-results/screenshots/."""
    await page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    violations = await audit(page)
    assert violations == [], f"{name}: {len(violations)} axe violations\n{describe(violations)}"


async def assert_each_accessible(page: Page, urls: dict[str, str], screenshots: Path) -> None:
    """Visit each page (label: URL) in turn: zero axe violations, and a screenshot named by its label."""
    for label, url in urls.items():
        await page.goto(url)
        await assert_accessible(page, label, screenshots)


async def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.goto("/anmelden")
    await page.get_by_label("E-Mail-Adresse").fill(email)
    await page.get_by_label("Passwort").fill(password)
    await page.get_by_role("button", name="Anmelden").click()
    await page.wait_for_load_state()
    if "/anmelden/zweiter-faktor" in page.url:  # a moderator's code from the authenticator app
        await page.get_by_label("Code", exact=True).fill(await next_code(live_secret(email)))
        await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_text("Sie sind angemeldet.")).to_be_visible()


async def tab_to(page: Page, selector: str, *, backwards: bool = False, limit: int = 250) -> None:
    """Press Tab (or Shift+Tab) until the element matching ``selector`` has the focus."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        if await page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        await page.keyboard.press(key)
    raise AssertionError(f"{selector} never got the focus after {limit} presses of {key}")


async def focus_is_visible(page: Page) -> bool:
    """The focused element draws an outline (the stylesheet's :focus-visible ring)."""
    style = await page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return {outline: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow}; }"
    )
    return bool(style["outline"] != "none" and style["width"] != "0px")


class LiveClient:
    """A scripted visitor for setting up state on the live server without a browser (forms with CSRF)."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=10)

    def close(self) -> None:
        self.http.close()

    def token(self) -> str:
        if not self.http.cookies.get("csrftoken"):
            self.http.get("/anmelden")
        return str(self.http.cookies.get("csrftoken"))

    def post(self, url: str, data: dict[str, Any]) -> httpx.Response:
        return self.http.post(url, data={**data, "_csrf_token": self.token()})

    def sign_in(self, email: str) -> None:
        response = self.post("/anmelden", {"email": email, "password": PASSWORD})
        assert response.status_code == 303, response.text[:500]
        if response.headers["location"].startswith("/anmelden/zweiter-faktor"):
            code = next_code_sync(live_secret(email))
            given = self.post("/anmelden/zweiter-faktor", {"code": code})
            assert given.status_code == 303, given.text[:500]

    def version(self, url: str, slug: str | None = None) -> str:
        html = self.http.get(url).text
        if slug is not None:
            found = re.search(
                rf'action="/(?:moderation|anbieter/loesungen)/{re.escape(slug)}/[^"]+"[^>]*>\s*'
                r'<input type="hidden" name="_csrf_token" value="[^"]*" />\s*'
                r'<input type="hidden" name="version" value="(\d+)">',
                html,
            )
        else:
            found = re.search(r'name="version" value="(\d+)"', html)
        assert found, f"no version on {url}"
        return found.group(1)


def solution_form(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "provider": "testanbieter",
        "name": name,
        "summary": "Eine Testlösung für die Browser-Tests.",
        "description": "Kurz beschrieben.",
        "kind": "software",
        "license": "EUPL-1.2",
        "stages": ["2"],
        "sectors": ["smart-governance"],
        "hosting_location": "de",
        "accessibility": "partial",
        "languages": "de",
    }
    data.update(changes)
    return data


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1)

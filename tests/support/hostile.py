"""Hostile input (issue 12, item 5): the number from the issue, and what a refusal must look like: a
problem document naming the field for the API, the German error page for a browser."""

from __future__ import annotations

import base64
from typing import Any

import httpx

HUGE = "12531161390593084398124400640"  # the number from the issue: far beyond 64 bits
JSON = {"content-type": "application/json", "authorization": "Bearer not-a-token"}  # no CSRF needed
HTML = {"accept": "text/html,application/xhtml+xml"}


def problem(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["field"] == field, body
    return body


def german_page(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="de">' in response.text
    assert "Ungültige Anfrage" in response.text


def cursor_of(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")

"""Helpers of the identity tests: registering like a client would, and the links the outbox holds."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlmodel import col, select

from allmende.core.db import Database
from notifications.models import OutboundMail
from tests.support.factories import csrf_headers

STRONG = "Wiesenweg-Rathaus-Fahrrad-7"  # passes the password policy
LINK = re.compile(r"https?://\S+token=\S+")


async def api_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another browser-like client on the same app with a CSRF cookie and header, not signed in."""
    http = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    await http.get("/api/v1/organizations", params={"limit": 1})
    http.headers.update(csrf_headers(http))
    return http


async def post(client: httpx.AsyncClient, url: str, body: Any) -> httpx.Response:
    if not client.cookies.get("csrftoken"):
        await client.get("/api/v1/organizations", params={"limit": 1})
    return await client.post(url, json=body, headers=csrf_headers(client))


async def register(
    client: httpx.AsyncClient, email: str, *, name: str = "Anna Beispiel", password: str = STRONG
) -> httpx.Response:
    return await post(client, "/api/v1/auth/register", {"email": email, "display_name": name, "password": password})


async def mails_to(database: Database, address: str, kind: str | None = None) -> list[OutboundMail]:
    async with database.sessionmaker() as session:
        query = select(OutboundMail).where(OutboundMail.to_address == address)
        if kind is not None:
            query = query.where(OutboundMail.kind == kind)
        return list(await session.exec(query.order_by(col(OutboundMail.id))))


def token_in(text: str) -> str:
    """The token of the (last) link in a mail's link or body."""
    found = LINK.findall(text) or ([text] if "token=" in text else [])
    assert found, f"no link with a token in {text!r}"
    return str(parse_qs(urlsplit(found[-1]).query)["token"][0])


async def last_token(database: Database, address: str, kind: str) -> str:
    mails = await mails_to(database, address, kind)
    assert mails, f"no {kind} mail to {address}"
    assert mails[-1].link
    return token_in(mails[-1].link)

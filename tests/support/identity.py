"""Helpers of the identity tests: registering like a client would, the links the outbox holds, claims
filed and decided through the API, invitation links read from the mails the test's SMTP server
received, and the audit trail."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlmodel import col, select

from allmende.accounts.models import MemberRole, Membership, Organization, OrganizationKind, User
from allmende.core.audit import AuditEvent
from allmende.core.db import Database
from allmende.core.types import utcnow
from notifications.models import OutboundMail
from tests.support.factories import csrf_headers, make_organization, make_user
from tests.support.mail import SmtpSink

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


EVIDENCE_NOTE = "Rückruf über die Zentrale der Stadtverwaltung, Personalstelle bestätigt."


async def town(database: Database, **fields: Any) -> Organization:
    """A municipality in the register, with its AGS and website."""
    values: dict[str, Any] = {"name": "Musterstadt", "slug": "musterstadt", "ags": "01058077", "bundesland": "01"}
    values.update(fields)
    return await make_organization(database, kind=OrganizationKind.municipality, **values)


async def file_claim(http: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await http.post("/api/v1/organization-claims", json=body)


async def verify(http: httpx.AsyncClient, claim_uuid: str, evidence: str = "manual-check") -> httpx.Response:
    return await http.post(
        f"/api/v1/organization-claims/{claim_uuid}/verify", json={"evidence": evidence, "note": EVIDENCE_NOTE}
    )


async def audit_actions(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        rows = await session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id)))
        return list(rows)


def invitation_token(sink: SmtpSink, address: str) -> str:
    """The token of the last invitation link mailed to ``address``."""
    mails = sink.to(address)
    assert mails, f"no mail to {address}"
    body = mails[-1].get_content()
    found = re.findall(r"/einladung/([A-Za-z0-9_-]+)", body)
    assert found, body
    return str(found[-1])


async def unverified_owner(database: Database, org: Organization) -> str:
    """A person whose claim to ``org`` waits for a moderator: an owner's membership without ``verified_at``."""
    user = await make_user(database)
    async with database.unit_of_work() as session:
        membership = Membership(user_id=user.id or 0, organization_id=org.id or 0, role=MemberRole.owner.value)
        session.add(membership)
        await session.flush()
        membership.verified_at = None  # the column's default would fill in a None given on INSERT
    return user.email


async def verify_membership(database: Database, email: str) -> None:
    async with database.unit_of_work() as session:
        user = (await session.exec(select(User).where(User.email == email))).one()
        for membership in await session.exec(select(Membership).where(Membership.user_id == user.id)):
            membership.verified_at = utcnow()

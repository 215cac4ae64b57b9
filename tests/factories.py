"""Small factories for test data, writing through the services like the app does."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from allmende.accounts import services
from allmende.accounts.models import MemberRole, Membership, Organization, OrganizationKind, PlatformRole, User
from allmende.core.db import Database

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


async def make_user(database: Database, *, email: str | None = None, role: PlatformRole | None = None) -> User:
    async with database.unit_of_work() as session:
        return await services.create_user(
            session,
            email=email or f"user{next(_counter)}@example.org",
            display_name="Test Person",
            password=PASSWORD,
            platform_role=role,
        )


async def make_organization(
    database: Database, *, kind: OrganizationKind = OrganizationKind.vendor, **fields: Any
) -> Organization:
    n = next(_counter)
    values: dict[str, Any] = {"name": f"Organisation {n}", "slug": f"org-{n}", "kind": kind.value}
    if kind in (OrganizationKind.municipality, OrganizationKind.county) and "ags" not in fields:
        values["ags"] = f"0911{n:04d}"[:8]
        values["bundesland"] = "09"
    values.update(fields)
    async with database.unit_of_work() as session:
        org = Organization(**values)
        session.add(org)
    return org


async def add_membership(database: Database, user: User, org: Organization, role: MemberRole) -> None:
    async with database.unit_of_work() as session:
        session.add(Membership(user_id=user.id or 0, organization_id=org.id or 0, role=role.value))


def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    token = client.cookies.get("csrftoken")
    return {"x-csrftoken": token} if token else {}


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in like a browser would: fetch the CSRF cookie with a GET, then post with the header."""
    await client.get("/api/v1/organizations", params={"limit": 1})
    return await client.post(
        "/api/v1/auth/login", json={"email": email, "password": password}, headers=csrf_headers(client)
    )

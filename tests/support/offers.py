"""Helpers of the offer-request tests: parties signed in over the API, vendors' tokens, request and offer
bodies, and reaching into the database where the API may not (deadlines in the past)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlmodel import col, select

from allmende.accounts import services as accounts_services
from allmende.accounts.models import MemberRole, Organization, OrganizationKind, TokenScope, User
from allmende.core.audit import AuditEvent
from allmende.core.db import Database
from offer_requests.models import OfferRequest
from tests.support.factories import bearer, make_organization, make_user_in, published_solution, signed_in

BASE = "/api/v1/offer-requests"


@dataclass
class Party:
    org: Organization
    user: User
    http: httpx.AsyncClient


async def sign_in(client: httpx.AsyncClient, user: User) -> httpx.AsyncClient:
    """A browser-like client of its own, signed in, that sends the CSRF header with every write."""
    return await signed_in(client, user.email)


async def party(
    client: httpx.AsyncClient, database: Database, org: Organization, role: MemberRole = MemberRole.member
) -> Party:
    user = await make_user_in(database, org, role)
    return Party(org, user, await sign_in(client, user))


async def write_token(database: Database, org: Organization) -> str:
    async with database.unit_of_work() as session:
        _, token = await accounts_services.issue_token(
            session,
            org,
            name="Angebote",
            scopes=[TokenScope.read, TokenScope.write],
            expires_in_days=30,
            created_by=None,
        )
    return token


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


def request_payload(organization: str, *, solution: str | None = "mitmachen", **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "organization": organization,
        "title": "Bürgerbeteiligungsplattform für drei Jahre",
        "need": "## Bedarf\n\nOnline-Beteiligung zu Bauleitplanung und **Bürgerhaushalt**.",
        "quantities": {"inhabitants": 120_000, "users": 40, "sites": 2},
        "deadline": in_days(14),
        "desired_start": (datetime.now(UTC) + timedelta(days=60)).date().isoformat(),
        "budget": {"min_cents": 2_000_000, "max_cents": 6_000_000, "currency": "EUR"},
        "procurement_notes": "Verhandlungsvergabe nach UVgO; Rahmenvertrag für alle Teilnehmenden.",
    }
    if solution is not None:
        payload["solution"] = solution
    payload.update(overrides)
    return payload


def offer_payload(request: dict[str, Any], *, base_cents: int = 1_000_000, **overrides: Any) -> dict[str, Any]:
    """An offer for the bundle as ``request`` (read by the vendor) shows it: each participant pays a base
    amount plus 5 cents per inhabitant."""
    shares = [
        {"organization": p["organization"]["slug"], "total_cents": base_cents + 5 * p["quantities"]["inhabitants"]}
        for p in request["bundle"]["participants"]
    ]
    payload: dict[str, Any] = {
        "bundle_version": request["bundle"]["version"],
        "currency": "EUR",
        "items": [
            {"label": "Einrichtung und Schulung", "kind": "one_off", "amount_cents": 800_000},
            {"label": "Betrieb und Support", "kind": "recurring_yearly", "amount_cents": 1_200_000},
            {"label": "Lizenz je Einwohnerin und Einwohner", "kind": "per_inhabitant", "amount_cents": 5},
        ],
        "total_cents": sum(s["total_cents"] for s in shares),
        "per_participant": shares,
        "service_level": "Reaktionszeit 4 Stunden werktags, Verfügbarkeit 99,5 %",
        "hosting_location": "de",
        "valid_until": (datetime.fromisoformat(request["deadline"]) + timedelta(days=90)).date().isoformat(),
        "notes": "Preise **netto**; Betrieb in einem deutschen Rechenzentrum (BSI C5).",
    }
    payload.update(overrides)
    return payload


async def audit_trail(database: Database, request_uuid: str) -> list[tuple[str, str | None, str | None]]:
    async with database.sessionmaker() as session:
        events = await session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
        return [
            (e.action, e.from_state, e.to_state) for e in events if e.data.get("offer_request") == str(request_uuid)
        ]


@dataclass
class Opened:
    """A request open for offers: Köln-like ``town`` asks the vendor of the published ``mitmachen``."""

    rid: str
    requester: Party
    vendor: httpx.AsyncClient
    seen: dict[str, Any]  # the request as the vendor reads it


async def requester_with_solution(client: httpx.AsyncClient, database: Database) -> tuple[Organization, Party]:
    """A vendor with the published solution ``mitmachen``, and a municipality ``town`` signed in to ask for it."""
    vendor_org = await make_organization(database, slug="vendor")
    await published_solution(database, vendor_org, "mitmachen")
    town = await make_organization(database, kind=OrganizationKind.municipality, slug="town")
    return vendor_org, await party(client, database, town)


async def opened(client: httpx.AsyncClient, database: Database) -> Opened:
    vendor_org, requester = await requester_with_solution(client, database)
    rid = (await requester.http.post(BASE, json=request_payload("town"))).json()["uuid"]
    assert (await requester.http.post(f"{BASE}/{rid}/open")).status_code == 200
    vendor = bearer(client, await write_token(database, vendor_org))
    return Opened(rid, requester, vendor, (await vendor.get(f"{BASE}/{rid}")).json())


async def set_deadline(database: Database, request_uuid: str, deadline: datetime) -> None:
    """Move a request's deadline directly in the database (the API refuses deadlines in the past)."""
    async with database.unit_of_work() as session:
        query = select(OfferRequest).where(OfferRequest.uuid == uuid.UUID(str(request_uuid)))
        (await session.exec(query)).one().deadline = deadline

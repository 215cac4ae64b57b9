"""Loading organizations from ``seeds/organizations.yaml``: idempotent, changes only what differs."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import Organization, OrganizationKind, VendorType
from allmende.accounts.regions import check_ags, check_ars, check_bundesland

SEEDED_FIELDS = (
    "name",
    "kind",
    "ags",
    "ars",
    "bundesland",
    "population",
    "population_date",
    "website",
    "vendor_type",
    "description",
    "unconfirmed",
)


def _validated(item: dict[str, Any]) -> dict[str, Any]:
    slug = item["slug"]
    values = {name: item.get(name) for name in SEEDED_FIELDS}
    values["kind"] = OrganizationKind(str(values["kind"])).value
    if values["vendor_type"]:
        values["vendor_type"] = VendorType(values["vendor_type"]).value
    if values["ags"]:
        check_ags(str(values["ags"]))
        if values["bundesland"] and values["bundesland"] != values["ags"][:2]:
            raise ValueError(f"{slug}: bundesland {values['bundesland']} contradicts AGS {values['ags']}")
        values["bundesland"] = values["ags"][:2]
    if values["ars"]:
        check_ars(str(values["ars"]))
        values["bundesland"] = values["bundesland"] or values["ars"][:2]
    if values["bundesland"]:
        check_bundesland(values["bundesland"])
    values["unconfirmed"] = sorted(values["unconfirmed"] or [])
    if values["population_date"] is not None:
        values["population_date"] = str(values["population_date"])
    return values


async def load_organizations(session: AsyncSession, items: list[dict[str, Any]]) -> tuple[int, int]:
    """Upsert by slug. Returns (created, updated); unchanged records are left alone (no new version)."""
    existing = {o.slug: o for o in (await session.exec(select(Organization))).all()}
    created = updated = 0
    for item in items:
        values = _validated(item)
        org = existing.get(item["slug"])
        if org is None:
            org = Organization(slug=item["slug"], **values)
            session.add(org)
            existing[org.slug] = org
            created += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(org, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(org, key, value)
            updated += 1
    await session.flush()
    return created, updated

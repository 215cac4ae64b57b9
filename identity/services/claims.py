"""Organizations join the platform: a registered person claims a public body from the register or names a
new vendor; a moderator verifies or rejects the claim.

The rules (``docs/identity.md``, "Organization claims"):

- Only a signed-in person with a confirmed e-mail address files a claim. The claimant becomes an
  *unverified owner* at once: they prepare drafts for the organization, but publish nothing, answer no
  offers, join no bundles and record no references until a moderator verifies the claim.
- A public body is chosen from the register (slug, AGS or ARS); a vendor that is not on the platform yet
  is created by the claim (name; its address and Handelsregister number stay in the claim's details).
- One pending claim per organization (a partial unique index): a second one is refused with 409 naming
  ``organization``, and nothing is written.
- Moderators decide, but never for an organization they belong to (four eyes). The evidence is
  "official-domain-email" (the claimant's confirmed address is at the body's official domain; the queue
  suggests it when the domains match, a moderator still decides) or "manual-check" with a note.
- Verifying sets the membership's ``verified_at``. The first verified owner of an organization is the
  claimant; if the organization has a verified owner already (someone was invited meanwhile, or a claim
  to take over an organization whose people are still there), the claimant becomes a verified *editor*:
  a moderator vouches that the person works there, but who runs the organization's account is for its
  owners to decide (they promote the person, or an admin sets the role where the owners are gone).
- Rejecting removes the unverified membership; a vendor the claim created and nobody else belongs to is
  deleted again (a tombstone), so that no unverified vendor stays in the register.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import PUBLIC_BODY_KINDS, MemberRole, Membership, Organization, OrganizationKind, User
from allmende.accounts.principal import Principal
from allmende.accounts.schemas import OrganizationRef
from allmende.core import links
from allmende.core.audit import record_for
from allmende.core.problems import Conflict, Forbidden, NotFound
from allmende.core.records import claim_slug
from allmende.core.types import utcnow
from identity import notices
from identity.models import ClaimState, OrganizationClaim
from identity.schemas import ClaimIn, ClaimOut
from notifications import services as notifications

__all__ = ["EVIDENCE", "ClaimState", "ClaimView", "file_claim", "list_claims", "reject", "verify"]

OFFICIAL_DOMAIN_EMAIL = "official-domain-email"
MANUAL_CHECK = "manual-check"
EVIDENCE = (OFFICIAL_DOMAIN_EMAIL, MANUAL_CHECK)


def require_confirmed(principal: Principal) -> User:
    """A signed-in person whose address is confirmed (not an API token)."""
    user = principal.require_user()
    if user.email_confirmed_at is None:
        raise Forbidden("confirm your e-mail address before you act for an organization", field="email")
    return user


async def _public_body(session: AsyncSession, data: ClaimIn) -> Organization:
    if data.organization is not None:
        org = (await session.exec(select(Organization).where(Organization.slug == data.organization))).first()
    else:
        org = await accounts.find_by_key(session, data.key or "")
    if org is None or org.is_deleted or org.kind not in {k.value for k in PUBLIC_BODY_KINDS}:
        raise NotFound("no public body with this name or key in the register", field="organization")
    return org


async def _new_vendor(session: AsyncSession, principal: Principal, data: ClaimIn) -> Organization:
    assert data.vendor is not None
    vendor = data.vendor
    org = Organization(
        kind=OrganizationKind.vendor.value,
        name=vendor.name,
        slug=await claim_slug(session, Organization, None, vendor.name),
        website=str(vendor.website) if vendor.website else None,
    )
    session.add(org)
    await session.flush()
    record_for(
        session,
        principal,
        action="organization.create",
        record_type="organization",
        record_uuid=org.uuid,
        data={"by": "claim"},
    )
    return org


async def _membership(session: AsyncSession, user_id: int, organization_id: int) -> Membership | None:
    return (
        await session.exec(
            select(Membership).where(Membership.user_id == user_id, Membership.organization_id == organization_id)
        )
    ).first()


async def _pending_for(session: AsyncSession, organization_id: int) -> OrganizationClaim | None:
    return (
        await session.exec(
            select(OrganizationClaim).where(
                OrganizationClaim.organization_id == organization_id,
                OrganizationClaim.state == ClaimState.pending.value,
            )
        )
    ).first()


_TAKEN = "this organization has a claim waiting for a moderator already"


async def file_claim(
    session: AsyncSession, principal: Principal, data: ClaimIn
) -> tuple[OrganizationClaim, Organization]:
    user = require_confirmed(principal)
    created = data.vendor is not None
    org = await _new_vendor(session, principal, data) if created else await _public_body(session, data)
    if not created:
        existing = await _membership(session, user.id or 0, org.id or 0)
        if existing is not None and existing.verified_at is not None:
            raise Conflict("you are a member of this organization already", field="organization")
        if await _pending_for(session, org.id or 0) is not None:
            raise Conflict(_TAKEN, field="organization")
    details: dict[str, str] = {}
    if data.vendor is not None:
        details["address"] = data.vendor.address
        if data.vendor.register_number:
            details["register_number"] = data.vendor.register_number
    if data.statement:
        details["statement"] = data.statement
    details["email"] = user.email  # the address the moderator saw when deciding
    claim = OrganizationClaim(
        user_id=user.id,
        organization_id=org.id or 0,
        details={**details, **({"created": "vendor"} if created else {})},
    )
    try:
        # Two claims racing for one organization: the partial unique index lets one through.
        async with session.begin_nested():
            session.add(claim)
            await session.flush()
    except IntegrityError:
        raise Conflict(_TAKEN, field="organization") from None
    if await _membership(session, user.id or 0, org.id or 0) is None:
        membership = Membership(user_id=user.id or 0, organization_id=org.id or 0, role=MemberRole.owner.value)
        session.add(membership)
        await session.flush()
        # The column's default fills in a None given on INSERT (memberships are verified unless a claim
        # makes them): unset it afterwards, in the same transaction.
        membership.verified_at = None
        await session.flush()
    record_for(
        session,
        principal,
        action="organization_claim.file",
        record_type="organization_claim",
        record_uuid=claim.uuid,
        to_state=ClaimState.pending.value,
        data={"organization": org.slug, "new_vendor": created},
    )
    return claim, org


# --- reading -------------------------------------------------------------------------------------------


def _domain(address: str | None) -> str | None:
    if not address:
        return None
    host = urlsplit(address if "//" in address else f"//{address}").hostname or ""
    host = host.lower().removeprefix("www.")
    return host or None


def suggested_evidence(email: str | None, organization: Organization) -> str | None:
    """ "official-domain-email" when the address is at the organization's website domain (or below it)."""
    site = _domain(organization.website)
    mail_domain = email.rsplit("@", 1)[-1].lower() if email and "@" in email else None
    if site is None or mail_domain is None:
        return None
    return OFFICIAL_DOMAIN_EMAIL if mail_domain == site or mail_domain.endswith(f".{site}") else None


@dataclass
class ClaimView:
    claim: OrganizationClaim
    organization: Organization
    claimant: User | None

    def out(self) -> ClaimOut:
        org, claimant, claim = self.organization, self.claimant, self.claim
        details = {k: str(v) for k, v in (claim.details or {}).items() if k != "created"}
        return ClaimOut(
            uuid=claim.uuid,
            state=claim.state,
            organization=OrganizationRef(slug=org.slug, name=org.name, kind=org.kind, bundesland=org.bundesland),
            organization_created=(claim.details or {}).get("created") == "vendor",
            claimant_email=claimant.email if claimant else None,
            claimant_name=claimant.display_name if claimant else None,
            details=details,
            suggested_evidence=suggested_evidence(claimant.email if claimant else None, org),
            evidence=claim.evidence,
            note=claim.note,
            created_at=claim.created_at,
            decided_at=claim.decided_at,
        )


async def list_claims(
    session: AsyncSession, principal: Principal, *, state: ClaimState | None = None, mine: bool = False
) -> list[ClaimView]:
    """Moderators see the queue (oldest first); anyone else their own claims. ``mine`` asks for one's own."""
    user = principal.require_user()
    query = (
        select(OrganizationClaim, Organization, User)
        .join(Organization, col(Organization.id) == OrganizationClaim.organization_id)
        .join(User, col(User.id) == OrganizationClaim.user_id, isouter=True)
    )
    if mine or not principal.is_moderator:
        query = query.where(OrganizationClaim.user_id == user.id)
    if state is not None:
        query = query.where(OrganizationClaim.state == state.value)
    rows = await session.exec(query.order_by(col(OrganizationClaim.created_at), col(OrganizationClaim.id)).limit(500))
    return [ClaimView(claim, org, claimant) for claim, org, claimant in rows]


async def pending_count(session: AsyncSession) -> int:
    query = (
        select(func.count()).select_from(OrganizationClaim).where(OrganizationClaim.state == ClaimState.pending.value)
    )
    return int((await session.exec(query)).one())


async def pending_claim_of(session: AsyncSession, user_id: int, organization_id: int) -> OrganizationClaim | None:
    """The person's claim for the organization that waits for a moderator, if any."""
    claim = await _pending_for(session, organization_id)
    return claim if claim is not None and claim.user_id == user_id else None


# --- deciding -------------------------------------------------------------------------------------------


async def _held(session: AsyncSession, principal: Principal, claim_uuid: uuid.UUID) -> ClaimView:
    principal.require_moderator()
    found = (
        await session.exec(
            select(OrganizationClaim)
            .where(OrganizationClaim.uuid == claim_uuid)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()
    if found is None:
        raise NotFound("no such organization claim", field="claim")
    org = await session.get(Organization, found.organization_id)
    assert org is not None
    if org.id in principal.roles:
        raise Forbidden("moderators do not decide claims for an organization they belong to", field="organization")
    if found.state != ClaimState.pending.value:
        raise Conflict(f"this claim was decided already ({found.state})", field="state")
    claimant = await session.get(User, found.user_id) if found.user_id is not None else None
    return ClaimView(found, org, claimant)


def _decided(claim: OrganizationClaim, principal: Principal, state: ClaimState, note: str) -> None:
    claim.state = state.value
    claim.note = note
    claim.decided_by_user_id = principal.user_id
    claim.decided_at = utcnow()


async def _has_verified_owner(session: AsyncSession, organization_id: int, *, besides: int) -> bool:
    query = select(Membership.id).where(
        Membership.organization_id == organization_id,
        Membership.role == MemberRole.owner.value,
        col(Membership.verified_at).is_not(None),
        Membership.user_id != besides,
    )
    return (await session.exec(query)).first() is not None


async def verify(
    session: AsyncSession, principal: Principal, claim_uuid: uuid.UUID, *, evidence: str, note: str
) -> ClaimView:
    view = await _held(session, principal, claim_uuid)
    claim, org, claimant = view.claim, view.organization, view.claimant
    if claimant is None or claimant.deleted_at is not None or not claimant.is_active:
        raise Conflict("the claimant's account no longer exists", field="claim")
    membership = await _membership(session, claimant.id or 0, org.id or 0)
    if membership is None:  # the claimant left meanwhile: verifying puts them back
        membership = Membership(user_id=claimant.id or 0, organization_id=org.id or 0, role=MemberRole.owner.value)
        session.add(membership)
    role = (
        MemberRole.editor
        if await _has_verified_owner(session, org.id or 0, besides=claimant.id or 0)
        else MemberRole.owner
    )
    membership.role = role.value
    membership.verified_at = utcnow()
    _decided(claim, principal, ClaimState.verified, note)
    claim.evidence = evidence
    await session.flush()
    record_for(
        session,
        principal,
        action="organization_claim.verify",
        record_type="organization_claim",
        record_uuid=claim.uuid,
        from_state=ClaimState.pending.value,
        to_state=ClaimState.verified.value,
        reason=note,
        data={"organization": org.slug, "user": str(claimant.uuid), "role": role.value, "evidence": evidence},
    )
    subject, body = notices.claim_verified(org.name, role.value)
    notifications.notify(
        session,
        [notifications.Recipient(claimant.id or 0, claimant.email, claimant.language)],
        "organization_claim.verified",
        subject,
        body,
        link=links.organization_members(org.slug),
        record_uuid=claim.uuid,
    )
    return view


async def reject(session: AsyncSession, principal: Principal, claim_uuid: uuid.UUID, *, note: str) -> ClaimView:
    view = await _held(session, principal, claim_uuid)
    claim, org, claimant = view.claim, view.organization, view.claimant
    if claimant is not None:
        membership = await _membership(session, claimant.id or 0, org.id or 0)
        if membership is not None and membership.verified_at is None:
            await session.delete(membership)
    _decided(claim, principal, ClaimState.rejected, note)
    await session.flush()
    if (claim.details or {}).get("created") == "vendor":
        others = (await session.exec(select(Membership.id).where(Membership.organization_id == org.id))).first()
        if others is None:
            org.deleted_at = utcnow()
            await session.flush()
    record_for(
        session,
        principal,
        action="organization_claim.reject",
        record_type="organization_claim",
        record_uuid=claim.uuid,
        from_state=ClaimState.pending.value,
        to_state=ClaimState.rejected.value,
        reason=note,
        data={"organization": org.slug, "user": str(claimant.uuid) if claimant else None},
    )
    if claimant is not None:
        subject, body = notices.claim_rejected(org.name, note)
        notifications.notify(
            session,
            [notifications.Recipient(claimant.id or 0, claimant.email, claimant.language)],
            "organization_claim.rejected",
            subject,
            body,
            record_uuid=claim.uuid,
        )
    return view

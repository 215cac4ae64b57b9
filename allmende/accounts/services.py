"""The rules of accounts: users, organizations, memberships and API tokens. No HTTP here; no commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import (
    PUBLIC_BODY_KINDS,
    ApiToken,
    MemberRole,
    Membership,
    Organization,
    OrganizationKind,
    PlatformRole,
    TokenScope,
    User,
)
from allmende.accounts.principal import Principal, token_role
from allmende.accounts.regions import BUNDESLAENDER
from allmende.accounts.schemas import OrganizationCreate, OrganizationOut, OrganizationUpdate
from allmende.core.audit import record_audit, record_for
from allmende.core.pagination import Page, check_limit, decode_cursor, encode_cursor
from allmende.core.problems import Conflict, InvalidInput, NotFound, Unauthorized
from allmende.core.records import claim_slug, out_of
from allmende.core.security import hash_password, needs_rehash, new_api_token, token_digest, verify_password
from allmende.core.types import utcnow

# Re-exported for the offer-request code, which moves out of the catalog on another branch; after that
# merge its callers import it from allmende.core.versions like everyone else, and the re-export goes.
from allmende.core.versions import check_version

MIN_PASSWORD_LENGTH = 12


# --- users -----------------------------------------------------------------------------------------


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.exec(select(User).where(User.email == normalize_email(email)))).first()


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    display_name: str,
    password: str,
    platform_role: PlatformRole | None = None,
) -> User:
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise InvalidInput("not an e-mail address", field="email")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if await get_user_by_email(session, email) is not None:
        raise Conflict("a user with this e-mail address exists already", field="email")
    # made by an operator, who vouches for the address (issue 14)
    return await add_user(
        session,
        User(
            email=email,
            display_name=display_name.strip() or email,
            password_hash=hash_password(password),
            platform_role=platform_role.value if platform_role else None,
            email_confirmed_at=utcnow(),
        ),
        action="user.create",
        how={"platform_role": platform_role.value if platform_role else None},
    )


async def add_user(session: AsyncSession, user: User, *, action: str, how: dict[str, Any]) -> User:
    """Every way an account comes to be (an operator, a registration, an invitation, a sign-in provider)
    ends here: the row, and the audit event that says how (``how``), by the person themselves."""
    session.add(user)
    await session.flush()
    record_audit(session, action=action, record_type="user", record_uuid=user.uuid, actor_user_id=user.id, data=how)
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    """The user if e-mail and password match an active account; None otherwise, in equal time."""
    user = await get_user_by_email(session, email)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


async def load_roles(session: AsyncSession, user_id: int) -> dict[int, MemberRole]:
    rows = await session.exec(select(Membership).where(Membership.user_id == user_id))
    return {m.organization_id: MemberRole(m.role) for m in rows}


async def principal_of(session: AsyncSession, user: User, *, second_factor: bool = True) -> Principal | None:
    """The principal of a person; None for one who may not act (deactivated, deleted)."""
    if not user.is_active or user.deleted_at is not None:
        return None
    memberships = list(await session.exec(select(Membership).where(Membership.user_id == user.id)))
    return Principal(
        user=user,
        # A session waiting for its second factor acts for nobody yet: a person who turned it on is
        # protected by it in their organizations too, not only in their platform role.
        roles={m.organization_id: MemberRole(m.role) for m in memberships} if second_factor else {},
        unverified=frozenset(m.organization_id for m in memberships if m.verified_at is None),
        second_factor=second_factor,
    )


async def principal_for_user(session: AsyncSession, user_uuid: str) -> Principal | None:
    try:
        key = uuid.UUID(user_uuid)
    except ValueError:
        return None
    user = (await session.exec(select(User).where(User.uuid == key))).first()
    return await principal_of(session, user) if user is not None else None


@dataclass
class MembershipView:
    organization: Organization
    role: MemberRole


async def memberships_of(session: AsyncSession, user_id: int) -> list[MembershipView]:
    rows = await session.exec(
        select(Membership, Organization)
        .join(Organization, col(Organization.id) == Membership.organization_id)
        .where(Membership.user_id == user_id)
        .order_by(col(Organization.name))
    )
    return [MembershipView(organization=org, role=MemberRole(m.role)) for m, org in rows]


# --- API tokens ---------------------------------------------------------------------------------------

TOKEN_LAST_USED_RESOLUTION = timedelta(minutes=1)


async def principal_for_token(session: AsyncSession, token: str) -> Principal:
    """The principal an API token acts as; Unauthorized if unknown, revoked or expired."""
    api_token = (await session.exec(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))).first()
    if api_token is None:
        raise Unauthorized("The API token is not valid.")
    now = utcnow()
    if api_token.revoked_at is not None:
        raise Unauthorized("The API token has been revoked.")
    if api_token.expires_at <= now:
        raise Unauthorized("The API token has expired.")
    # Record use at most once a minute so reads do not turn every request into a write.
    if api_token.last_used_at is None or now - api_token.last_used_at > TOKEN_LAST_USED_RESOLUTION:
        api_token.last_used_at = now
    organization = await session.get(Organization, api_token.organization_id)
    if organization is None or organization.is_deleted:
        raise Unauthorized("The API token's organization no longer exists.")
    return Principal(token=api_token, roles={api_token.organization_id: token_role(api_token)})


async def create_token(
    session: AsyncSession,
    principal: Principal,
    organization: Organization,
    *,
    name: str,
    scopes: Sequence[TokenScope],
    expires_in_days: int,
) -> tuple[ApiToken, str]:
    user = principal.require_user()
    if not principal.is_admin:
        principal.require_role(organization.id, MemberRole.owner)
    return await issue_token(
        session, organization, name=name, scopes=scopes, expires_in_days=expires_in_days, created_by=user
    )


async def issue_token(
    session: AsyncSession,
    organization: Organization,
    *,
    name: str,
    scopes: Sequence[TokenScope],
    expires_in_days: int,
    created_by: User | None,
) -> tuple[ApiToken, str]:
    """Make a token without a permission check: for ``create_token`` and the operator's CLI."""
    if not 1 <= expires_in_days <= 366:
        raise InvalidInput("a token lives between 1 and 366 days", field="expires_in_days")
    if not scopes:
        raise InvalidInput("name at least one scope (read, write)", field="scopes")
    plaintext = new_api_token()
    api_token = ApiToken(
        organization_id=organization.id or 0,
        name=name,
        token_prefix=plaintext[:10],
        token_hash=token_digest(plaintext),
        scopes=sorted({TokenScope(s).value for s in scopes}),
        created_by_user_id=created_by.id if created_by else None,
        expires_at=utcnow() + timedelta(days=expires_in_days),
    )
    session.add(api_token)
    await session.flush()
    record_audit(
        session,
        action="token.create",
        record_type="api_token",
        record_uuid=api_token.uuid,
        actor_user_id=created_by.id if created_by else None,
        data={"organization": organization.slug, "scopes": api_token.scopes},
    )
    return api_token, plaintext


async def list_tokens(session: AsyncSession, principal: Principal, organization: Organization) -> list[ApiToken]:
    principal.require_user()
    if not principal.is_admin:
        principal.require_role(organization.id, MemberRole.owner)
    rows = await session.exec(
        select(ApiToken).where(ApiToken.organization_id == organization.id).order_by(col(ApiToken.created_at).desc())
    )
    return list(rows)


async def find_token(session: AsyncSession, token_uuid: uuid.UUID) -> tuple[ApiToken, Organization]:
    row = (
        await session.exec(
            select(ApiToken, Organization)
            .join(Organization, col(Organization.id) == ApiToken.organization_id)
            .where(ApiToken.uuid == token_uuid)
        )
    ).first()
    if row is None:
        raise NotFound("no such token", field="token")
    return row[0], row[1]


async def revoke_token(session: AsyncSession, principal: Principal | None, api_token: ApiToken) -> ApiToken:
    """Revoke; ``principal`` None is the operator's CLI, which needs no role."""
    if principal is not None:
        principal.require_user()
        if not principal.is_admin:
            principal.require_role(api_token.organization_id, MemberRole.owner)
    if api_token.revoked_at is None:
        api_token.revoked_at = utcnow()
        record_for(
            session,
            principal,
            action="token.revoke",
            record_type="api_token",
            record_uuid=api_token.uuid,
        )
    return api_token


# --- organizations ------------------------------------------------------------------------------------


def organization_out(org: Organization, base_url: str) -> OrganizationOut:
    return out_of(
        OrganizationOut,
        org,
        kind=OrganizationKind(org.kind),
        bundesland_name=BUNDESLAENDER.get(org.bundesland or ""),
        origin=org.origin or base_url,
        unconfirmed=list(org.unconfirmed or []),
    )


async def get_organization(session: AsyncSession, slug: str) -> Organization:
    org = (await session.exec(select(Organization).where(Organization.slug == slug))).first()
    if org is None or org.is_deleted:
        raise NotFound(f"no organization '{slug}'", field="slug")
    return org


async def find_by_ags(session: AsyncSession, ags: str) -> Organization | None:
    """The public body with this AGS; a city before a state where a city-state shares the key."""
    rows = (
        await session.exec(select(Organization).where(Organization.ags == ags, col(Organization.deleted_at).is_(None)))
    ).all()
    order = {"municipality": 0, "county": 1, "association": 2, "state": 3}
    return min(rows, key=lambda o: order.get(o.kind, 9)) if rows else None


async def find_by_key(session: AsyncSession, key: str) -> Organization | None:
    """A public body by AGS (8 digits) or ARS (12 digits)."""
    if len(key) == 8:
        return await find_by_ags(session, key)
    if len(key) == 12:
        rows = (
            await session.exec(
                select(Organization).where(Organization.ars == key, col(Organization.deleted_at).is_(None))
            )
        ).all()
        return rows[0] if rows else None
    return None


async def organizations_by_ids(session: AsyncSession, ids: set[int]) -> dict[int, Organization]:
    if not ids:
        return {}
    return {o.id or 0: o for o in await session.exec(select(Organization).where(col(Organization.id).in_(ids)))}


def _check_keys(kind: str, ags: str | None, ars: str | None, bundesland: str | None) -> str | None:
    """Public bodies need an AGS or ARS; the key's first two digits fix the Bundesland."""
    is_public = kind in {k.value for k in PUBLIC_BODY_KINDS}
    if is_public and not (ags or ars):
        raise InvalidInput("a public body needs an AGS (8 digits) or an ARS (12 digits)", field="ags")
    if not is_public and (ags or ars):
        raise InvalidInput("only public bodies carry an AGS or ARS", field="ags")
    key_land = (ags or ars or "")[:2] or None
    if ags and ars and ars[:5] != ags[:5]:
        raise InvalidInput("ARS and AGS name different Kreise", field="ars")
    if key_land and bundesland and bundesland != key_land:
        raise InvalidInput(f"Bundesland {bundesland} does not match the key, which says {key_land}", field="bundesland")
    return key_land or bundesland


async def create_organization(session: AsyncSession, principal: Principal, data: OrganizationCreate) -> Organization:
    principal.require_moderator()
    bundesland = _check_keys(data.kind.value, data.ags, data.ars, data.bundesland)
    slug = await claim_slug(session, Organization, data.slug, data.name)
    if (
        data.ags
        and (
            await session.exec(
                select(Organization.id).where(Organization.ags == data.ags, Organization.kind == data.kind.value)
            )
        ).first()
    ):
        raise Conflict(f"an organization of this kind with AGS {data.ags} exists already", field="ags")
    org = Organization(
        kind=data.kind.value,
        name=data.name,
        slug=slug,
        ags=data.ags,
        ars=data.ars,
        bundesland=bundesland,
        population=data.population,
        website=str(data.website) if data.website else None,
        vendor_type=data.vendor_type.value if data.vendor_type else None,
        description=data.description,
    )
    session.add(org)
    await _flush_or_conflict(session)
    record_for(
        session,
        principal,
        action="organization.create",
        record_type="organization",
        record_uuid=org.uuid,
    )
    return org


async def update_organization(
    session: AsyncSession, principal: Principal, org: Organization, data: OrganizationUpdate, if_match: str | None
) -> Organization:
    if not principal.is_moderator:
        principal.require_role(org.id, MemberRole.owner)
    check_version(org.etag, if_match)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "website" in changes and changes["website"] is not None:
        changes["website"] = str(changes["website"])
    if "vendor_type" in changes and changes["vendor_type"] is not None:
        changes["vendor_type"] = changes["vendor_type"].value
    merged = {"ags": org.ags, "ars": org.ars, "bundesland": org.bundesland} | {
        k: v for k, v in changes.items() if k in {"ags", "ars", "bundesland"}
    }
    if {"ags", "ars", "bundesland"} & changes.keys():
        changes["bundesland"] = _check_keys(org.kind, merged["ags"], merged["ars"], merged["bundesland"])
    for key, value in changes.items():
        setattr(org, key, value)
    await _flush_or_conflict(session)
    record_for(
        session,
        principal,
        action="organization.update",
        record_type="organization",
        record_uuid=org.uuid,
        data={"fields": sorted(changes)},
    )
    return org


async def _flush_or_conflict(session: AsyncSession) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict("this conflicts with an existing record (slug or key already taken)") from exc


async def list_organizations(
    session: AsyncSession,
    *,
    kind: OrganizationKind | None = None,
    bundesland: str | None = None,
    q: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
    base_url: str,
) -> Page[OrganizationOut]:
    check_limit(limit)
    query = select(Organization).where(col(Organization.deleted_at).is_(None))
    if kind is not None:
        query = query.where(Organization.kind == kind.value)
    if bundesland is not None:
        if bundesland not in BUNDESLAENDER:
            raise InvalidInput("Bundesland must be a 2-digit code from 01 to 16", field="bundesland")
        query = query.where(Organization.bundesland == bundesland)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(func.lower(Organization.name).like(pattern), col(Organization.ags) == q))
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    after = decode_cursor(cursor, arity=2)
    if after is not None:
        name, last_id = str(after[0]), int(after[1])
        query = query.where(
            or_(col(Organization.name) > name, (col(Organization.name) == name) & (col(Organization.id) > last_id))
        )
    rows = list(await session.exec(query.order_by(col(Organization.name), col(Organization.id)).limit(limit + 1)))
    next_cursor = encode_cursor([rows[limit - 1].name, rows[limit - 1].id]) if len(rows) > limit else None
    return Page(items=[organization_out(o, base_url) for o in rows[:limit]], total=total, next_cursor=next_cursor)


# --- memberships ----------------------------------------------------------------------------------------


async def _verified_owners(session: AsyncSession, org: Organization) -> int:
    return int(
        (
            await session.exec(
                select(func.count())
                .select_from(Membership)
                .where(
                    Membership.organization_id == org.id,
                    Membership.role == MemberRole.owner.value,
                    col(Membership.verified_at).is_not(None),
                )
            )
        ).one()
    )


async def _is_last_owner(session: AsyncSession, org: Organization, membership: Membership) -> bool:
    """The only verified owner: an organization keeps at least one, so they cannot leave or step down."""
    if membership.role != MemberRole.owner.value or membership.verified_at is None:
        return False
    return await _verified_owners(session, org) <= 1


async def add_member(
    session: AsyncSession, principal: Principal, org: Organization, *, email: str, role: MemberRole
) -> tuple[User, Membership]:
    """Owners add a person with an account, or change a member's role (issue 14: invitations are the
    way for people without one). The last verified owner is not demoted (409 naming ``role``)."""
    if not principal.is_admin:
        principal.require_user()
        principal.require_role(org.id, MemberRole.owner)
    user = await get_user_by_email(session, email)
    if user is None:
        raise NotFound("no user with this e-mail address", field="email")
    membership = (
        await session.exec(
            select(Membership).where(Membership.user_id == user.id, Membership.organization_id == org.id)
        )
    ).first()
    previous = membership.role if membership is not None else None
    if membership is None:
        membership = Membership(user_id=user.id or 0, organization_id=org.id or 0, role=role.value)
        session.add(membership)
    else:
        if role is not MemberRole.owner and await _is_last_owner(session, org, membership):
            raise Conflict("an organization keeps at least one owner; make someone else owner first", field="role")
        membership.role = role.value
        if membership.verified_at is None:
            membership.verified_at = utcnow()  # an owner vouches for the person
    await session.flush()
    record_for(
        session,
        principal,
        action="membership.set",
        record_type="organization",
        record_uuid=org.uuid,
        from_state=previous,
        to_state=role.value,
        data={"user": str(user.uuid), "role": role.value, "previous_role": previous},
    )
    return user, membership


async def remove_member(session: AsyncSession, principal: Principal, org: Organization, *, email: str) -> None:
    """Owners remove members; anyone leaves (removes themselves). The last verified owner stays (409)."""
    user = await get_user_by_email(session, email)
    leaving = principal.user is not None and user is not None and principal.user.id == user.id
    if not principal.is_admin and not leaving:
        principal.require_user()
        principal.require_role(org.id, MemberRole.owner)
    membership = (
        None
        if user is None
        else (
            await session.exec(
                select(Membership).where(Membership.user_id == user.id, Membership.organization_id == org.id)
            )
        ).first()
    )
    if user is None or membership is None:
        raise NotFound("this user is not a member", field="email")
    if await _is_last_owner(session, org, membership):
        raise Conflict("an organization keeps at least one owner; make someone else owner first", field="email")
    await session.delete(membership)
    record_for(
        session,
        principal,
        action="membership.leave" if leaving else "membership.remove",
        record_type="organization",
        record_uuid=org.uuid,
        from_state=membership.role,
        data={"user": str(user.uuid)},
    )


async def members_of(session: AsyncSession, principal: Principal, org: Organization) -> list[tuple[User, Membership]]:
    """The members with their memberships (role, and ``verified_at`` None while a claim waits)."""
    if not principal.is_moderator and not (principal.user is not None and org.id in principal.roles):
        principal.require_role(org.id, MemberRole.member)
    rows = await session.exec(
        select(User, Membership)
        .join(Membership, col(Membership.user_id) == User.id)
        .where(Membership.organization_id == org.id)
        .order_by(col(User.email))
    )
    return [(user, m) for user, m in rows]

"""References (Nachnutzung): a municipality records that it uses a solution, or withdraws that."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import Organization
from allmende.accounts.principal import Principal
from allmende.core.audit import record_for
from allmende.core.problems import Conflict, Forbidden, InvalidInput, NotFound
from allmende.core.types import utcnow
from marketplace import policies
from marketplace.models import Reference, Solution, SolutionState
from marketplace.schemas import ReferenceIn, ReferenceOut
from marketplace.services.common import _org_ref
from marketplace.services.vocabularies import vocabulary_index


async def _adopters_count(session: AsyncSession, solution: Solution) -> int:
    return int(
        (
            await session.exec(
                select(func.count())
                .select_from(Reference)
                .where(Reference.solution_id == solution.id, col(Reference.deleted_at).is_(None))
            )
        ).one()
    )


def _require_reference_rights(principal: Principal, org: Organization, what: str) -> None:
    principal.require_authenticated()
    if not policies.may_record_references(principal, org.id):
        raise Forbidden(f"only members of the municipality {what}")


async def _reference(session: AsyncSession, solution: Solution, org: Organization) -> Reference | None:
    return (
        await session.exec(
            select(Reference).where(Reference.solution_id == solution.id, Reference.organization_id == org.id)
        )
    ).first()


async def _reference_changed(
    session: AsyncSession,
    principal: Principal,
    solution: Solution,
    org: Organization,
    reference: Reference,
    action: str,
) -> None:
    """Recount the adopters and audit the change (claim or withdraw)."""
    await session.flush()
    solution.adopters_count = await _adopters_count(session, solution)
    record_for(
        session,
        principal,
        action=action,
        record_type="reference",
        record_uuid=reference.uuid,
        data={"solution": solution.slug, "organization": org.slug},
    )
    await session.flush()


async def claim_reference(
    session: AsyncSession, principal: Principal, solution: Solution, org: Organization, data: ReferenceIn
) -> Reference:
    _require_reference_rights(principal, org, "record what it uses")
    if not org.is_public_body:
        raise InvalidInput(
            "only public bodies (Kommune, Landkreis, Verbund, Land) record references", field="organization"
        )
    if solution.state != SolutionState.published.value:
        raise Conflict("references can be recorded only for published solutions", field="solution")
    if data.mode not in (await vocabulary_index(session)).get("reference-modes", set()):
        raise InvalidInput(f"'{data.mode}' is not a reference mode", field="mode")
    reference = await _reference(session, solution, org)
    if reference is None:
        reference = Reference(solution_id=solution.id or 0, organization_id=org.id or 0, mode=data.mode)
        session.add(reference)
    reference.since, reference.mode, reference.statement = data.since, data.mode, data.statement
    reference.deleted_at = None
    await _reference_changed(session, principal, solution, org, reference, "reference.claim")
    return reference


async def withdraw_reference(
    session: AsyncSession, principal: Principal, solution: Solution, org: Organization
) -> None:
    _require_reference_rights(principal, org, "withdraw what it recorded")
    reference = await _reference(session, solution, org)
    if reference is None or reference.deleted_at is not None:
        raise NotFound("this organization has not recorded that it uses this solution", field="organization")
    reference.deleted_at = utcnow()
    await _reference_changed(session, principal, solution, org, reference, "reference.withdraw")


async def references_of(session: AsyncSession, org: Organization) -> list[ReferenceOut]:
    """What an organization uses (published solutions only)."""
    rows = await session.exec(
        select(Reference, Solution)
        .join(Solution, col(Solution.id) == Reference.solution_id)
        .where(
            Reference.organization_id == org.id,
            col(Reference.deleted_at).is_(None),
            Solution.state == SolutionState.published.value,
        )
        .order_by(col(Solution.name))
    )
    return [
        ReferenceOut(
            solution=s.slug,
            solution_name=s.name,
            organization=_org_ref(org),
            since=r.since,
            mode=r.mode,
            statement=r.statement,
            claimed_at=r.claimed_at,
        )
        for r, s in rows
    ]

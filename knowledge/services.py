"""The knowledge hub's rules: case studies (moderated like the catalog), guides with revisions, and
the Stufenplan navigation. No HTTP and no commits here."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import Organization, User
from allmende.accounts.principal import Principal
from allmende.accounts.regions import BUNDESLAENDER
from allmende.core import markdown, moderation
from allmende.core.audit import record_for
from allmende.core.moderation import ModerationState
from allmende.core.pagination import check_limit, decode_cursor, encode_cursor
from allmende.core.problems import Conflict, Forbidden, InvalidInput, NotFound, invalid_input_from
from allmende.core.records import claim_slug, hold_checked, out_of
from knowledge import policies
from knowledge.models import CaseStudy, CaseStudyOrganization, CaseStudySolution, Guide, GuideRevision
from knowledge.schemas import (
    BODY_MAX_BYTES,
    CaseStudyCreate,
    CaseStudyFields,
    CaseStudyOut,
    GuideCreate,
    GuideFields,
    GuideOut,
    LinkRef,
    PlaceRef,
    RevisionDiffOut,
    RevisionOut,
    StageDetail,
    StageSummary,
    TocEntryOut,
)
from marketplace import services as catalog

PUBLISHED = ModerationState.published.value
WORKFLOW = moderation.Workflow(record_type="case_study", noun="case study", plural="case studies")
VOCABULARY_OF = {"stages": "stages", "sectors": "sectors", "steps": "steps", "stage": "stages", "step": "steps"}


async def _check_vocabulary(session: AsyncSession, values: dict[str, Any]) -> None:
    index = await catalog.vocabulary_index(session)
    for name, vocabulary in VOCABULARY_OF.items():
        if name not in values or values[name] is None:
            continue
        terms = values[name] if isinstance(values[name], list) else [values[name]]
        for term in terms:
            if term not in index.get(vocabulary, set()):
                raise InvalidInput(f"'{term}' is not a term of the vocabulary '{vocabulary}'", field=name)


def _toc(rendered: markdown.Rendered) -> list[TocEntryOut]:
    return [TocEntryOut(level=e.level, text=e.text, anchor=e.anchor) for e in rendered.toc]


# --- case studies -------------------------------------------------------------------------------------


async def resolve_places(session: AsyncSession, keys: Sequence[str]) -> list[Organization]:
    places = []
    for key in keys:
        org = await accounts.find_by_key(session, key)
        if org is None or not org.is_public_body:
            raise InvalidInput(f"no public body with the key {key} (AGS or ARS) is known here", field="organizations")
        places.append(org)
    return places


async def resolve_solutions(session: AsyncSession, slugs: Sequence[str]) -> list[Any]:
    found = await catalog.published_by_slugs(session, slugs)
    for slug in slugs:
        if slug not in found:
            raise InvalidInput(f"no published solution '{slug}'", field="solutions")
    return [found[s] for s in slugs]


async def _case_study_content(session: AsyncSession, fields: CaseStudyFields) -> dict[str, Any]:
    """Validate links and terms; return the record's stored content."""
    await _check_vocabulary(session, {"stages": fields.stages, "sectors": fields.sectors, "steps": fields.steps})
    await resolve_places(session, fields.organizations)
    solutions = await resolve_solutions(session, fields.solutions)
    data = fields.model_dump(mode="json", include=set(CaseStudyFields.model_fields) - {"organizations", "solutions"})
    data["organization_keys"] = list(dict.fromkeys(fields.organizations))
    data["solution_uuids"] = [str(s.uuid) for s in solutions]
    return data


def _fields_of(study: CaseStudy, slugs_by_uuid: dict[str, str]) -> dict[str, Any]:
    return {
        "title": study.title,
        "organizations": study.organization_keys,
        "programme": study.programme,
        "cohort": study.cohort,
        "period_start": study.period_start,
        "period_end": study.period_end,
        "stages": study.stages,
        "sectors": study.sectors,
        "steps": study.steps,
        "summary": study.summary,
        "body": study.body,
        "outcomes": study.outcomes,
        "contact": study.contact,
        "solutions": [slugs_by_uuid[u] for u in study.solution_uuids if u in slugs_by_uuid],
    }


async def _slugs_by_uuid(session: AsyncSession, uuids: Sequence[str]) -> dict[str, str]:
    result = {}
    for value in uuids:
        solution = await catalog.get_solution_by_uuid(session, UUID(value))
        if solution is not None:
            result[value] = solution.slug
    return result


async def sync_links(session: AsyncSession, study: CaseStudy) -> None:
    """Rewrite the link rows of a case study from its public content (only published ones are linked)."""
    await session.exec(delete(CaseStudyOrganization).where(col(CaseStudyOrganization.case_study_id) == study.id))
    await session.exec(delete(CaseStudySolution).where(col(CaseStudySolution.case_study_id) == study.id))
    if study.state != PUBLISHED or study.is_deleted:
        return
    seen: set[int] = set()
    for org in await resolve_places(session, study.organization_keys):
        if org.id not in seen:
            seen.add(org.id or 0)
            session.add(CaseStudyOrganization(case_study_id=study.id or 0, organization_id=org.id or 0))
    for value in dict.fromkeys(study.solution_uuids):
        session.add(CaseStudySolution(case_study_id=study.id or 0, solution_uuid=UUID(value)))


async def get_case_study(session: AsyncSession, principal: Principal, slug: str) -> CaseStudy:
    study = (await session.exec(select(CaseStudy).where(CaseStudy.slug == slug))).first()
    if study is None or study.is_deleted or not policies.may_see(principal, study):
        raise NotFound(f"no case study '{slug}'", field="slug")
    return study


async def case_study_out(session: AsyncSession, principal: Principal, study: CaseStudy, base_url: str) -> CaseStudyOut:
    places = await resolve_places(session, study.organization_keys) if study.organization_keys else []
    slugs = await _slugs_by_uuid(session, study.solution_uuids)
    titles = {}
    for value, slug in slugs.items():
        solution = await catalog.get_solution_by_uuid(session, UUID(value))
        titles[slug] = solution.name if solution else slug
    rendered = markdown.render(study.body, max_bytes=BODY_MAX_BYTES)
    insider = policies.can_see_drafts(principal, study)
    return out_of(
        CaseStudyOut,
        study,
        origin=study.origin or base_url,
        organizations=[
            PlaceRef(slug=o.slug, name=o.name, kind=o.kind, key=o.ags or o.ars, bundesland=o.bundesland) for o in places
        ],
        body_html=rendered.html,
        toc=_toc(rendered),
        solutions=[LinkRef(slug=s, title=titles[s]) for s in slugs.values()],
        author_organization=await _author_slug(session, study.author_organization_id),
        moderation_reason=study.moderation_reason if insider else None,
        pending={"state": study.pending_state, "content": study.pending} if insider and study.pending else None,
    )


async def create_case_study(session: AsyncSession, principal: Principal, data: CaseStudyCreate) -> CaseStudy:
    principal.require_authenticated()
    author = await accounts.get_organization(session, data.author_organization)
    if not policies.may_write_for(principal, author.id):
        raise Forbidden("only editors of the author organization write its case studies")
    content = await _case_study_content(session, data)
    slug = await claim_slug(session, CaseStudy, data.slug, data.title, number_if_taken=False)
    study = CaseStudy(slug=slug, author_organization_id=author.id, **content)
    session.add(study)
    await session.flush()
    record_for(
        session,
        principal,
        action="case_study.create",
        record_type="case_study",
        record_uuid=study.uuid,
        to_state=ModerationState.draft.value,
    )
    return study


def _require_author(principal: Principal, study: CaseStudy) -> None:
    principal.require_authenticated()
    if not policies.may_edit(principal, study):
        raise Forbidden("only editors of the author organization change this case study")


async def update_case_study(
    session: AsyncSession, principal: Principal, study: CaseStudy, changes: dict[str, Any], if_match: str | None
) -> CaseStudy:
    _require_author(principal, study)
    await hold_checked(session, study, if_match)
    is_live = WORKFLOW.check_editable(study)
    current = WORKFLOW.working_copy(study) or _fields_of(study, await _slugs_by_uuid(session, study.solution_uuids))
    try:
        fields = CaseStudyFields.model_validate(current | changes)
    except ValidationError as exc:
        raise invalid_input_from(exc) from None
    content = await _case_study_content(session, fields)
    if not is_live:
        for key, value in content.items():
            setattr(study, key, value)
    step = WORKFLOW.edit(study, fields.model_dump(mode="json") if is_live else None)
    await session.flush()
    WORKFLOW.audit(session, principal, study, step)
    return study


async def submit_case_study(
    session: AsyncSession, principal: Principal, study: CaseStudy, if_match: str | None = None
) -> CaseStudy:
    _require_author(principal, study)
    await hold_checked(session, study, if_match, required=False)
    WORKFLOW.audit(session, principal, study, WORKFLOW.submit(study))
    await session.flush()
    return study


async def publish_case_study(
    session: AsyncSession, principal: Principal, study: CaseStudy, if_match: str | None = None
) -> CaseStudy:
    WORKFLOW.require_reviewer(principal, study.author_organization_id)
    await hold_checked(session, study, if_match, required=False)

    async def apply_pending(pending: dict[str, Any]) -> None:
        content = await _case_study_content(session, CaseStudyFields.model_validate(pending))
        for key, value in content.items():
            setattr(study, key, value)

    WORKFLOW.audit(session, principal, study, await WORKFLOW.publish(study, apply_pending))
    await session.flush()
    await sync_links(session, study)
    await session.flush()
    return study


async def request_case_study_changes(
    session: AsyncSession, principal: Principal, study: CaseStudy, reason: str, if_match: str | None = None
) -> CaseStudy:
    WORKFLOW.require_reviewer(principal, study.author_organization_id)
    await hold_checked(session, study, if_match, required=False)
    WORKFLOW.audit(session, principal, study, WORKFLOW.request_changes(study, reason))
    await session.flush()
    return study


async def archive_case_study(
    session: AsyncSession, principal: Principal, study: CaseStudy, if_match: str | None = None
) -> CaseStudy:
    principal.require_authenticated()
    if not policies.may_archive(principal, study):
        raise Forbidden("only moderators and the authors archive a case study")
    await hold_checked(session, study, if_match, required=False)
    # Case studies have always kept a pending edit when archived (solutions drop theirs).
    WORKFLOW.audit(session, principal, study, WORKFLOW.archive(study, None, keep_pending=True))
    await session.flush()
    await sync_links(session, study)
    return study


async def list_case_studies(
    session: AsyncSession,
    *,
    stage: str | None,
    sector: str | None,
    step: str | None,
    cohort: int | None,
    bundesland: str | None,
    organization: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[CaseStudy], int, str | None]:
    check_limit(limit)
    await _check_vocabulary(
        session,
        {
            "stages": [stage] if stage else None,
            "sectors": [sector] if sector else None,
            "steps": [step] if step else None,
        },
    )
    query = select(CaseStudy).where(CaseStudy.state == PUBLISHED, col(CaseStudy.deleted_at).is_(None))
    rows_all = list(await session.exec(query.order_by(col(CaseStudy.title), col(CaseStudy.id))))

    wanted_org = await accounts.get_organization(session, organization) if organization else None
    if bundesland is not None and bundesland not in BUNDESLAENDER:
        raise InvalidInput("Bundesland must be a 2-digit code from 01 to 16", field="bundesland")
    links: dict[int, list[Organization]] = {}
    if bundesland or wanted_org:
        for row in await session.exec(
            select(CaseStudyOrganization, Organization).join(
                Organization, col(Organization.id) == CaseStudyOrganization.organization_id
            )
        ):
            links.setdefault(row[0].case_study_id, []).append(row[1])

    def keep(study: CaseStudy) -> bool:
        if (stage and stage not in study.stages) or (sector and sector not in study.sectors):
            return False
        if (step and step not in study.steps) or (cohort and study.cohort != cohort):
            return False
        places = links.get(study.id or 0, [])
        if bundesland and not any(p.bundesland == bundesland for p in places):
            return False
        return not (wanted_org and not any(p.id == wanted_org.id for p in places))

    # The hub holds hundreds of case studies, not millions: filtering the JSON lists in Python keeps
    # the query portable between SQLite and PostgreSQL.
    matching = [s for s in rows_all if keep(s)]
    after = decode_cursor(cursor, arity=2)
    if after:
        matching_after = [s for s in matching if (s.title, s.id or 0) > (str(after[0]), int(after[1]))]
    else:
        matching_after = matching
    page = matching_after[:limit]
    next_cursor = encode_cursor([page[-1].title, page[-1].id]) if len(matching_after) > limit else None
    return page, len(matching), next_cursor


async def case_studies_for_solutions(
    session: AsyncSession, solution_uuids: Sequence[UUID]
) -> dict[UUID, list[LinkRef]]:
    """For the catalog: the published case studies that used each solution."""
    if not solution_uuids:
        return {}
    rows = await session.exec(
        select(CaseStudySolution, CaseStudy)
        .join(CaseStudy, col(CaseStudy.id) == CaseStudySolution.case_study_id)
        .where(col(CaseStudySolution.solution_uuid).in_(list(solution_uuids)), CaseStudy.state == PUBLISHED)
    )
    result: dict[UUID, list[LinkRef]] = {}
    for link, study in rows:
        result.setdefault(link.solution_uuid, []).append(LinkRef(slug=study.slug, title=study.title))
    return result


# --- guides --------------------------------------------------------------------------------------------


async def get_guide(session: AsyncSession, principal: Principal, slug: str) -> Guide:
    guide = (await session.exec(select(Guide).where(Guide.slug == slug))).first()
    if guide is None or guide.is_deleted or not policies.may_see_guide(principal, guide):
        raise NotFound(f"no guide '{slug}'", field="slug")
    return guide


async def _author_slug(session: AsyncSession, organization_id: int | None) -> str | None:
    if organization_id is None:
        return None
    author = (await accounts.organizations_by_ids(session, {organization_id})).get(organization_id)
    return author.slug if author else None


async def guide_out(session: AsyncSession, guide: Guide, base_url: str) -> GuideOut:
    rendered = markdown.render(guide.body, max_bytes=BODY_MAX_BYTES)
    return out_of(
        GuideOut,
        guide,
        origin=guide.origin or base_url,
        body_html=rendered.html,
        toc=_toc(rendered),
        author_organization=await _author_slug(session, guide.author_organization_id),
    )


async def _write_revision(
    session: AsyncSession, guide: Guide, fields: GuideFields, author_user_id: int | None, note: str | None
) -> GuideRevision:
    for key, value in fields.model_dump().items():
        setattr(guide, key, value)
    guide.revision += 1
    revision = GuideRevision(
        guide_id=guide.id or 0, number=guide.revision, author_user_id=author_user_id, note=note, **fields.model_dump()
    )
    session.add(revision)
    await session.flush()
    return revision


async def create_guide(session: AsyncSession, principal: Principal, data: GuideCreate) -> Guide:
    principal.require_authenticated()
    author = await accounts.get_organization(session, data.author_organization) if data.author_organization else None
    if not policies.may_write_guide_for(principal, author.id if author else None):
        raise Forbidden("guides are written by moderators or editors of the author organization")
    await _check_vocabulary(session, {"stage": data.stage, "step": data.step})
    slug = await claim_slug(session, Guide, data.slug, data.title, number_if_taken=False)
    fields = GuideFields.model_validate(data.model_dump(include=set(GuideFields.model_fields)))
    guide = Guide(
        slug=slug,
        author_organization_id=author.id if author else None,
        title=fields.title,
        stage=fields.stage,
        step=fields.step,
    )
    session.add(guide)
    await session.flush()
    await _write_revision(session, guide, fields, principal.user_id, data.note)
    record_for(
        session,
        principal,
        action="guide.create",
        record_type="guide",
        record_uuid=guide.uuid,
    )
    return guide


async def update_guide(
    session: AsyncSession, principal: Principal, guide: Guide, changes: dict[str, Any], if_match: str | None
) -> Guide:
    principal.require_authenticated()
    if not policies.may_edit_guide(principal, guide):
        raise Forbidden("only moderators and editors of the author organization edit this guide")
    await hold_checked(session, guide, if_match)
    note = changes.pop("note", None)
    current = {k: getattr(guide, k) for k in GuideFields.model_fields}
    try:
        fields = GuideFields.model_validate(current | changes)
    except ValidationError as exc:
        raise invalid_input_from(exc) from None
    await _check_vocabulary(session, {"stage": fields.stage, "step": fields.step})
    await _write_revision(session, guide, fields, principal.user_id, note)
    record_for(
        session,
        principal,
        action="guide.edit",
        record_type="guide",
        record_uuid=guide.uuid,
        data={"revision": guide.revision},
    )
    return guide


async def publish_guide(
    session: AsyncSession, principal: Principal, guide: Guide, if_match: str | None = None
) -> Guide:
    """Guides are published by a moderator directly, without a review step."""
    principal.require_moderator()
    await hold_checked(session, guide, if_match, required=False)
    if guide.state == PUBLISHED:
        raise Conflict("the guide is published already", field="state")
    step = moderation.mark_published(guide)
    record_for(
        session,
        principal,
        action="guide.publish",
        record_type="guide",
        record_uuid=guide.uuid,
        from_state=step.from_state,
        to_state=step.to_state,
    )
    await session.flush()
    return guide


async def revisions(session: AsyncSession, guide: Guide) -> list[RevisionOut]:
    rows = list(
        await session.exec(
            select(GuideRevision).where(GuideRevision.guide_id == guide.id).order_by(col(GuideRevision.number).desc())
        )
    )
    authors = {}
    for user_id in {r.author_user_id for r in rows if r.author_user_id}:
        user = await session.get(User, user_id)
        authors[user_id] = user.display_name if user else None
    return [out_of(RevisionOut, r, author=authors.get(r.author_user_id or 0)) for r in rows]


async def _revision(session: AsyncSession, guide: Guide, number: int, field_name: str = "revision") -> GuideRevision:
    revision = (
        await session.exec(
            select(GuideRevision).where(GuideRevision.guide_id == guide.id, GuideRevision.number == number)
        )
    ).first()
    if revision is None:
        raise NotFound(f"the guide '{guide.slug}' has no revision {number}", field=field_name)
    return revision


async def diff(session: AsyncSession, guide: Guide, from_number: int, to_number: int) -> RevisionDiffOut:
    """A readable diff between two revisions of the same guide (revision numbers belong to one guide)."""
    old = await _revision(session, guide, from_number, "from")
    new = await _revision(session, guide, to_number, "to")
    fields = {
        name: {"from": getattr(old, name), "to": getattr(new, name)}
        for name in ("title", "stage", "step", "tags", "summary")
        if getattr(old, name) != getattr(new, name)
    }
    body = "\n".join(
        difflib.unified_diff(
            old.body.splitlines(),
            new.body.splitlines(),
            fromfile=f"Revision {from_number}",
            tofile=f"Revision {to_number}",
            lineterm="",
        )
    )
    return RevisionDiffOut(
        guide=guide.slug, from_revision=from_number, to_revision=to_number, fields=fields, body_diff=body
    )


async def restore(
    session: AsyncSession, principal: Principal, guide: Guide, number: int, if_match: str | None = None
) -> Guide:
    """Restoring writes a new revision with the old content: history is never rewritten."""
    principal.require_authenticated()
    if not policies.may_edit_guide(principal, guide):
        raise Forbidden("only moderators and editors of the author organization restore revisions")
    await hold_checked(session, guide, if_match, required=False)  # the new revision follows the latest one
    old = await _revision(session, guide, number)
    fields = GuideFields(
        title=old.title, stage=old.stage, step=old.step, tags=old.tags, summary=old.summary, body=old.body
    )
    await _write_revision(session, guide, fields, principal.user_id, f"Wiederhergestellt aus Revision {number}")
    record_for(
        session,
        principal,
        action="guide.restore",
        record_type="guide",
        record_uuid=guide.uuid,
        data={"from_revision": number, "revision": guide.revision},
    )
    return guide


async def list_guides(session: AsyncSession, *, stage: str | None, step: str | None, tag: str | None) -> list[Guide]:
    await _check_vocabulary(session, {"stage": stage, "step": step})
    query = select(Guide).where(Guide.state == PUBLISHED, col(Guide.deleted_at).is_(None))
    if stage:
        query = query.where(Guide.stage == stage)
    if step:
        query = query.where(Guide.step == step)
    rows = list(await session.exec(query.order_by(col(Guide.title))))
    return [g for g in rows if not tag or tag in g.tags]


async def guide_drafts(session: AsyncSession, principal: Principal) -> list[Guide]:
    """Unpublished guides the viewer may edit: every one for moderators, else their organizations' ones."""
    if principal.user is None:
        return []
    query = select(Guide).where(col(Guide.state) != PUBLISHED, col(Guide.deleted_at).is_(None))
    if not principal.is_moderator:
        org_ids = [org_id for org_id in principal.roles if policies.may_write_guide_for(principal, org_id)]
        if not org_ids:
            return []
        query = query.where(col(Guide.author_organization_id).in_(org_ids))
    return list(await session.exec(query.order_by(col(Guide.title))))


# --- the Stufenplan navigation ----------------------------------------------------------------------------


async def _stage_terms(session: AsyncSession) -> dict[int, Any]:
    vocabulary = await catalog.get_vocabulary(session, "stages")
    return {int(t.key): t for t in vocabulary.terms}


async def stages(session: AsyncSession) -> list[StageSummary]:
    return [
        StageSummary(**(await stage(session, n)).model_dump(include=set(StageSummary.model_fields)))
        for n in sorted(await _stage_terms(session))
    ]


async def stage(session: AsyncSession, number: int) -> StageDetail:
    terms = await _stage_terms(session)
    if number not in terms:
        raise NotFound(f"the Stufenplan has stages 1 to {max(terms, default=4)}", field="number")
    term, key = terms[number], str(number)
    solutions = await catalog.published_in_stage(session, key)
    studies = [
        s
        for s in await session.exec(
            select(CaseStudy)
            .where(CaseStudy.state == PUBLISHED, col(CaseStudy.deleted_at).is_(None))
            .order_by(col(CaseStudy.title))
        )
        if key in s.stages
    ]
    guides = list(
        await session.exec(
            select(Guide)
            .where(Guide.state == PUBLISHED, Guide.stage == key, col(Guide.deleted_at).is_(None))
            .order_by(col(Guide.title))
        )
    )
    return StageDetail(
        number=number,
        title_de=term.label_de,
        title_en=term.label_en,
        description_de=term.description_de,
        description_en=term.description_en,
        counts={"solutions": len(solutions), "case_studies": len(studies), "guides": len(guides)},
        solutions=[LinkRef(slug=s.slug, title=s.name) for s in solutions],
        case_studies=[LinkRef(slug=s.slug, title=s.title) for s in studies],
        guides=[LinkRef(slug=g.slug, title=g.title) for g in guides],
    )


async def count_published(session: AsyncSession) -> dict[str, int]:
    studies = (
        await session.exec(select(func.count()).select_from(CaseStudy).where(CaseStudy.state == PUBLISHED))
    ).one()
    guides = (await session.exec(select(func.count()).select_from(Guide).where(Guide.state == PUBLISHED))).one()
    return {"case_studies": int(studies), "guides": int(guides)}

"""HTTP for the knowledge hub: case studies, guides with revisions, and the Stufenplan stages."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.principal import Principal
from allmende.core.pagination import DEFAULT_LIMIT, MAX_INTEGER, Limit, Page, PositiveNumber
from allmende.core.problems import InvalidInput
from allmende.core.settings import Settings
from knowledge import services
from knowledge.schemas import (
    CaseStudyCreate,
    CaseStudyOut,
    CaseStudyPatch,
    GuideCreate,
    GuideOut,
    GuidePatch,
    ReasonIn,
    RevisionDiffOut,
    RevisionOut,
    StageDetail,
    StageSummary,
)

Session = NamedDependency[AsyncSession]
Caller = NamedDependency[Principal]
Config = NamedDependency[Settings]
IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", required=False)]


async def _study(
    session: AsyncSession, principal: Principal, study: Any, settings: Settings, status: int = 200
) -> Response[CaseStudyOut]:
    out = await services.case_study_out(session, principal, study, settings.base_url)
    return Response(out, status_code=status, headers={"ETag": study.etag})


async def _guide(session: AsyncSession, guide: Any, settings: Settings, status: int = 200) -> Response[GuideOut]:
    return Response(
        await services.guide_out(session, guide, settings.base_url), status_code=status, headers={"ETag": guide.etag}
    )


class CaseStudyController(Controller):
    path = "/api/v1/case-studies"
    tags = ["case-studies"]  # noqa: RUF012

    @get("/")
    async def list_case_studies(
        self,
        db_session: Session,
        principal: Caller,
        settings: Config,
        stage: FromQuery[str | None] = None,
        sector: FromQuery[str | None] = None,
        step: FromQuery[str | None] = None,
        cohort: Annotated[int | None, QueryParameter(ge=1990, le=2100)] = None,  # the years a case study allows
        bundesland: FromQuery[str | None] = None,
        organization: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Page[CaseStudyOut]:
        rows, total, next_cursor = await services.list_case_studies(
            db_session,
            stage=stage,
            sector=sector,
            step=step,
            cohort=cohort,
            bundesland=bundesland,
            organization=organization,
            limit=limit,
            cursor=cursor,
        )
        items = [await services.case_study_out(db_session, principal, s, settings.base_url) for s in rows]
        return Page(items=items, total=total, next_cursor=next_cursor)

    @post("/")
    async def create(
        self, data: JSONBody[CaseStudyCreate], db_session: Session, principal: Caller, settings: Config
    ) -> Response[CaseStudyOut]:
        return await _study(
            db_session, principal, await services.create_case_study(db_session, principal, data), settings, 201
        )

    @get("/{slug:str}")
    async def read(
        self, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config
    ) -> Response[CaseStudyOut]:
        return await _study(db_session, principal, await services.get_case_study(db_session, principal, slug), settings)

    @patch("/{slug:str}")
    async def update(
        self,
        slug: FromPath[str],
        data: JSONBody[CaseStudyPatch],
        db_session: Session,
        principal: Caller,
        settings: Config,
        if_match: IfMatch,
    ) -> Response[CaseStudyOut]:
        study = await services.get_case_study(db_session, principal, slug)
        await services.update_case_study(db_session, principal, study, data.model_dump(exclude_unset=True), if_match)
        return await _study(db_session, principal, study, settings)

    @post("/{slug:str}/submit", status_code=200)
    async def submit(
        self, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config
    ) -> Response[CaseStudyOut]:
        study = await services.get_case_study(db_session, principal, slug)
        return await _study(
            db_session, principal, await services.submit_case_study(db_session, principal, study), settings
        )

    @post("/{slug:str}/publish", status_code=200)
    async def publish(
        self, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config
    ) -> Response[CaseStudyOut]:
        study = await services.get_case_study(db_session, principal, slug)
        return await _study(
            db_session, principal, await services.publish_case_study(db_session, principal, study), settings
        )

    @post("/{slug:str}/request-changes", status_code=200)
    async def request_changes(
        self, slug: FromPath[str], data: JSONBody[ReasonIn], db_session: Session, principal: Caller, settings: Config
    ) -> Response[CaseStudyOut]:
        study = await services.get_case_study(db_session, principal, slug)
        await services.request_case_study_changes(db_session, principal, study, data.reason)
        return await _study(db_session, principal, study, settings)

    @post("/{slug:str}/archive", status_code=200)
    async def archive(
        self, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config
    ) -> Response[CaseStudyOut]:
        study = await services.get_case_study(db_session, principal, slug)
        return await _study(
            db_session, principal, await services.archive_case_study(db_session, principal, study), settings
        )


class GuideController(Controller):
    path = "/api/v1/guides"
    tags = ["guides"]  # noqa: RUF012

    @get("/")
    async def list_guides(
        self,
        db_session: Session,
        settings: Config,
        stage: FromQuery[str | None] = None,
        step: FromQuery[str | None] = None,
        tag: FromQuery[str | None] = None,
    ) -> Page[GuideOut]:
        rows = await services.list_guides(db_session, stage=stage, step=step, tag=tag)
        items = [await services.guide_out(db_session, g, settings.base_url) for g in rows]
        return Page(items=items, total=len(items), next_cursor=None)

    @post("/")
    async def create(
        self, data: JSONBody[GuideCreate], db_session: Session, principal: Caller, settings: Config
    ) -> Response[GuideOut]:
        return await _guide(db_session, await services.create_guide(db_session, principal, data), settings, 201)

    @get("/{slug:str}")
    async def read(
        self, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config
    ) -> Response[GuideOut]:
        return await _guide(db_session, await services.get_guide(db_session, principal, slug), settings)

    @patch("/{slug:str}", summary="Save a new revision (If-Match required)")
    async def update(
        self,
        slug: FromPath[str],
        data: JSONBody[GuidePatch],
        db_session: Session,
        principal: Caller,
        settings: Config,
        if_match: IfMatch,
    ) -> Response[GuideOut]:
        guide = await services.get_guide(db_session, principal, slug)
        await services.update_guide(db_session, principal, guide, data.model_dump(exclude_unset=True), if_match)
        return await _guide(db_session, guide, settings)

    @post("/{slug:str}/publish", status_code=200)
    async def publish(
        self, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config
    ) -> Response[GuideOut]:
        guide = await services.get_guide(db_session, principal, slug)
        return await _guide(db_session, await services.publish_guide(db_session, principal, guide), settings)

    @get("/{slug:str}/revisions")
    async def revisions(self, slug: FromPath[str], db_session: Session, principal: Caller) -> list[RevisionOut]:
        return await services.revisions(db_session, await services.get_guide(db_session, principal, slug))

    @get("/{slug:str}/diff", summary="Readable diff between two revisions of this guide")
    async def diff(
        self,
        slug: FromPath[str],
        db_session: Session,
        principal: Caller,
        # Bounded by hand: Litestar's own ge/le error would name the Python parameter, from_, not from.
        from_: Annotated[int, QueryParameter(name="from", schema_extra={"minimum": 1, "maximum": MAX_INTEGER})] = 1,
        to: Annotated[int, QueryParameter(ge=1, le=MAX_INTEGER)] = 1,
    ) -> RevisionDiffOut:
        if not 1 <= from_ <= MAX_INTEGER:
            raise InvalidInput(f"from must be between 1 and {MAX_INTEGER}", field="from")
        guide = await services.get_guide(db_session, principal, slug)
        return await services.diff(db_session, guide, from_, to)

    @post("/{slug:str}/revisions/{number:int}/restore", status_code=200)
    async def restore(
        self, slug: FromPath[str], number: PositiveNumber, db_session: Session, principal: Caller, settings: Config
    ) -> Response[GuideOut]:
        guide = await services.get_guide(db_session, principal, slug)
        return await _guide(db_session, await services.restore(db_session, principal, guide, number), settings)


class StageController(Controller):
    path = "/api/v1/stages"
    tags = ["stages"]  # noqa: RUF012

    @get("/", summary="The four Stufenplan stages with what the platform holds for each")
    async def list_stages(self, db_session: Session) -> list[StageSummary]:
        return await services.stages(db_session)

    @get("/{number:int}")
    async def get_stage(self, number: PositiveNumber, db_session: Session) -> StageDetail:
        return await services.stage(db_session, number)


ROUTES = [CaseStudyController, GuideController, StageController]

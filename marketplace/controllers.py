"""HTTP for the catalog: vocabularies, solutions (vendor API and public read) and references."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.principal import Principal
from allmende.accounts.schemas import OptionalReasonIn
from allmende.core.pagination import DEFAULT_LIMIT, Limit, Page
from allmende.core.settings import Settings
from marketplace import services
from marketplace.schemas import (
    BulkIn,
    BulkOut,
    ReasonIn,
    ReferenceIn,
    ReferenceOut,
    SolutionCreate,
    SolutionOut,
    SolutionPatch,
    TermIn,
    TermOut,
    VocabularyOut,
)

Session = NamedDependency[AsyncSession]
Caller = NamedDependency[Principal]
Config = NamedDependency[Settings]
IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", required=False)]
Terms = Annotated[list[str] | None, QueryParameter(required=False)]


async def _respond(
    session: AsyncSession, principal: Principal, solution: Any, settings: Settings, status: int = 200
) -> Response[SolutionOut]:
    out = await services.solution_out(session, principal, solution, settings.base_url)
    return Response(out, status_code=status, headers={"ETag": solution.etag})


class VocabularyController(Controller):
    path = "/api/v1/vocabularies"
    tags = ["vocabularies"]  # noqa: RUF012

    @get("/")
    async def list_vocabularies(self, db_session: Session) -> list[VocabularyOut]:
        return await services.list_vocabularies(db_session)

    @get("/{key:str}")
    async def get_vocabulary(self, key: FromPath[str], db_session: Session) -> VocabularyOut:
        return await services.get_vocabulary(db_session, key)

    @post("/{key:str}/terms", summary="Add a term to an extensible vocabulary (moderators)")
    async def add_term(
        self, key: FromPath[str], data: JSONBody[TermIn], db_session: Session, principal: Caller
    ) -> TermOut:
        return await services.add_term(db_session, principal, key, data)


class SolutionController(Controller):
    path = "/api/v1/solutions"
    tags = ["solutions"]  # noqa: RUF012

    @get("/", summary="Published solutions, filtered, sorted and paged by cursor")
    async def list_solutions(
        self,
        db_session: Session,
        principal: Caller,
        settings: Config,
        stage: Terms = None,
        sector: Terms = None,
        area: Terms = None,
        standard: Terms = None,
        hosting: Terms = None,
        development_status: Terms = None,
        bundesland: Terms = None,
        license_type: FromQuery[str | None] = None,
        provider: FromQuery[str | None] = None,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        sort: FromQuery[str] = "name",
        limit: Limit = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Page[SolutionOut]:
        filters = services.SolutionFilters(
            stages=stage or [],
            sectors=sector or [],
            areas=area or [],
            standards=standard or [],
            hosting_options=hosting or [],
            development_status=development_status or [],
            bundesland=bundesland or [],
            license_type=license_type,
            provider=provider,
            q=q,
        )
        return await services.list_published(
            db_session, principal, filters, sort=sort, limit=limit, cursor=cursor, base_url=settings.base_url
        )

    @post("/", summary="Create a draft (editors of the provider; vendor tokens with write scope)")
    async def create_solution(
        self, data: JSONBody[SolutionCreate], db_session: Session, principal: Caller, settings: Config
    ) -> Response[SolutionOut]:
        solution = await services.create_solution(db_session, principal, data)
        return await _respond(db_session, principal, solution, settings, 201)

    @post("/bulk", status_code=200, summary="Upsert a vendor's solutions by external id, all or nothing")
    async def bulk_upsert(
        self,
        data: JSONBody[BulkIn],
        db_session: Session,
        principal: Caller,
        settings: Config,
        provider: FromQuery[str | None] = None,
    ) -> BulkOut:
        organization = (
            await accounts.get_organization(db_session, provider)
            if provider
            else await services.token_organization(db_session, principal)
        )
        result = await services.bulk_upsert(db_session, principal, organization, data.items)
        every = result.created + result.updated + result.unchanged
        return BulkOut(
            created=len(result.created),
            updated=len(result.updated),
            unchanged=len(result.unchanged),
            items=await services.solution_outs(db_session, principal, every, settings.base_url),
        )

    @get("/{slug:str}")
    async def get_solution(
        self, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config
    ) -> Response[SolutionOut]:
        return await _respond(db_session, principal, await services.get_solution(db_session, principal, slug), settings)

    @patch("/{slug:str}", summary="Edit (If-Match required); a published solution gets a pending version")
    async def update_solution(
        self,
        slug: FromPath[str],
        data: JSONBody[SolutionPatch],
        db_session: Session,
        principal: Caller,
        settings: Config,
        if_match: IfMatch,
    ) -> Response[SolutionOut]:
        solution = await services.get_solution(db_session, principal, slug)
        await services.update_solution(db_session, principal, solution, data.model_dump(exclude_unset=True), if_match)
        return await _respond(db_session, principal, solution, settings)

    @delete("/{slug:str}", status_code=HTTP_204_NO_CONTENT, summary="Delete a never-published draft")
    async def delete_solution(
        self, slug: FromPath[str], db_session: Session, principal: Caller, if_match: IfMatch
    ) -> None:
        solution = await services.get_solution(db_session, principal, slug)
        await services.delete_draft(db_session, principal, solution, if_match)

    @post("/{slug:str}/submit", status_code=200)
    async def submit(
        self, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config, if_match: IfMatch
    ) -> Response[SolutionOut]:
        solution = await services.get_solution(db_session, principal, slug)
        return await _respond(
            db_session, principal, await services.submit(db_session, principal, solution, if_match), settings
        )

    @post("/{slug:str}/publish", status_code=200, summary="Publish a submitted solution or edit (moderators)")
    async def publish(
        self, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config, if_match: IfMatch
    ) -> Response[SolutionOut]:
        solution = await services.get_solution(db_session, principal, slug)
        return await _respond(
            db_session, principal, await services.publish(db_session, principal, solution, if_match), settings
        )

    @post("/{slug:str}/request-changes", status_code=200, summary="Send back with a reason (moderators)")
    async def request_changes(
        self,
        slug: FromPath[str],
        data: JSONBody[ReasonIn],
        db_session: Session,
        principal: Caller,
        settings: Config,
        if_match: IfMatch,
    ) -> Response[SolutionOut]:
        solution = await services.get_solution(db_session, principal, slug)
        await services.request_changes(db_session, principal, solution, data.reason, if_match)
        return await _respond(db_session, principal, solution, settings)

    @post("/{slug:str}/archive", status_code=200)
    async def archive(
        self,
        slug: FromPath[str],
        db_session: Session,
        principal: Caller,
        settings: Config,
        if_match: IfMatch,
        data: JSONBody[OptionalReasonIn | None] = None,
    ) -> Response[SolutionOut]:
        solution = await services.get_solution(db_session, principal, slug)
        await services.archive(db_session, principal, solution, data.reason if data else None, if_match)
        return await _respond(db_session, principal, solution, settings)

    @put("/{slug:str}/references/{organization:str}", summary="Record that a municipality uses this solution")
    async def claim_reference(
        self,
        slug: FromPath[str],
        organization: FromPath[str],
        data: JSONBody[ReferenceIn],
        db_session: Session,
        principal: Caller,
    ) -> ReferenceOut:
        solution = await services.get_solution(db_session, principal, slug)
        org = await accounts.get_organization(db_session, organization)
        await services.claim_reference(db_session, principal, solution, org, data)
        return next(r for r in await services.references_of(db_session, org) if r.solution == slug)

    @delete("/{slug:str}/references/{organization:str}", status_code=HTTP_204_NO_CONTENT)
    async def withdraw_reference(
        self, slug: FromPath[str], organization: FromPath[str], db_session: Session, principal: Caller
    ) -> None:
        solution = await services.get_solution(db_session, principal, slug)
        org = await accounts.get_organization(db_session, organization)
        await services.withdraw_reference(db_session, principal, solution, org)


class OrganizationCatalogController(Controller):
    """The catalog's view of an organization: what a vendor offers, what a municipality uses."""

    path = "/api/v1/organizations/{slug:str}"
    tags = ["organizations"]  # noqa: RUF012

    @get("/solutions")
    async def offered(
        self, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config
    ) -> list[SolutionOut]:
        org = await accounts.get_organization(db_session, slug)
        return await services.list_for_provider(db_session, principal, org, settings.base_url)

    @get("/references")
    async def used(self, slug: FromPath[str], db_session: Session) -> list[ReferenceOut]:
        return await services.references_of(db_session, await accounts.get_organization(db_session, slug))


ROUTES = [VocabularyController, SolutionController, OrganizationCatalogController]

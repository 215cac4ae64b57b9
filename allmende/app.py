"""The composition root: the one place that chooses adapters by configuration and builds the app.

Core infrastructure (``allmende.core``, ``allmende.accounts``) knows no domain; the domain packages
(``marketplace``, ``offer_requests``, ``knowledge``, ``federation``, ``notifications``) are wired in here
and nowhere else.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from litestar import Litestar, Request
from litestar.config.response_cache import ResponseCacheConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as account_services
from allmende.accounts.controllers import OrganizationController
from allmende.accounts.principal import ANONYMOUS, Principal
from allmende.accounts.throttle import LoginThrottle, Throttle
from allmende.core import links
from allmende.core.db import Database
from allmende.core.health import ReadinessChecks, healthz, readyz
from allmende.core.http import RequestContextMiddleware, TokenAwareCSRFMiddleware, csrf_config, require_json_body
from allmende.core.indexing import DRAIN_JOB, DocumentRegistry
from allmende.core.jobs import JobContext, JobQueue, JobRegistry
from allmende.core.jobs.arq_runner import ArqJobQueue
from allmende.core.jobs.inprocess import InProcessJobQueue
from allmende.core.logging import configure_logging
from allmende.core.mail import LogMailer, Mailer, build_mailer  # issue 7
from allmende.core.outages import OUTAGE_HANDLERS
from allmende.core.problems import Unauthorized, exception_handlers
from allmende.core.search import EmbeddedSearchEngine, MeilisearchEngine, SearchEngine, SearchUnavailable
from allmende.core.search.base import SortDirection
from allmende.core.search_http import SearchApi, SearchController
from allmende.core.sessions import UNAVAILABLE_MARK, GuardedStore, LazySessionConfig, store_unavailable
from allmende.core.settings import Settings, load_settings
from allmende.web import template_config, web_routes
from allmende.web.kit.links import WEB_LINKS
from allmende.web.kit.viewer import PRINCIPAL_LOOKUP
from identity import services as identity_services
from identity.controllers import ROUTES as IDENTITY_ROUTES
from identity.services.oidc_http import OidcHttp
from knowledge import services as knowledge_services
from knowledge.controllers import ROUTES as KNOWLEDGE_ROUTES
from knowledge.search import CASE_STUDIES, GUIDES
from marketplace import services as marketplace_services
from marketplace.controllers import ROUTES as MARKETPLACE_ROUTES
from marketplace.search import SOLUTIONS
from notifications.controllers import InboxController  # issue 7
from notifications.jobs import MAIL_JOBS  # issue 7
from notifications.services import enqueue_pending  # issue 7
from offer_requests.controllers import ROUTES as OFFER_REQUEST_ROUTES
from offer_requests.jobs import JOBS as OFFER_REQUEST_JOBS  # issue 7

MAX_BODY_BYTES = 1_000_000

# Cross-domain links, wired here so that neither domain imports the other's internals.
marketplace_services.RELATED_PROVIDERS["case_studies"] = knowledge_services.case_studies_for_solutions
# Notices link the web's pages: domains ask core's link builder, which learns the web's URLs here.
links.register(WEB_LINKS)


def build_job_registry() -> JobRegistry:
    """Every job of every domain, registered in one place so both runners see the same set."""
    registry = JobRegistry()
    registry.register(DRAIN_JOB)
    for spec in (*MAIL_JOBS, *OFFER_REQUEST_JOBS):  # issue 7: e-mail outbox, offer-request deadlines
        registry.register(spec)
    return registry


def build_document_registry() -> DocumentRegistry:
    """What each domain contributes to the one search index."""
    documents = DocumentRegistry()
    for document_type in (SOLUTIONS, CASE_STUDIES, GUIDES):
        documents.register(document_type)
    return documents


# How the API's sort names map onto the index's sortable fields.
SEARCH_SORTS: dict[str, list[tuple[str, SortDirection]]] = {
    "name": [("name", "asc")],
    "newest": [("published", "desc")],
    "most_adopted": [("adopters", "desc"), ("name", "asc")],
}


def build_search_engine(settings: Settings) -> SearchEngine:
    if settings.meili_url:
        return MeilisearchEngine(settings.meili_url, settings.meili_key)
    return EmbeddedSearchEngine(settings.data_dir / "search")


@dataclass
class Adapters:
    """The replaceable parts, chosen by configuration."""

    settings: Settings
    database: Database
    jobs: JobQueue
    registry: JobRegistry
    store: Store
    search: SearchEngine
    documents: DocumentRegistry
    mailer: Mailer = field(default_factory=LogMailer)  # issue 7: SMTP_URL chooses SmtpMailer

    def job_context(self) -> JobContext:
        return JobContext(
            settings=self.settings,
            database=self.database,
            queue=self.jobs,
            adapters={"search": self.search, "documents": self.documents, "mailer": self.mailer},  # issue 7: mailer
        )

    async def start(self) -> None:
        """Apply the index settings (before any document is written, as Meilisearch wants)."""
        await self.search.configure(self.documents.schema())

    async def close(self) -> None:
        await self.jobs.close()
        await self.search.close()
        await self.database.dispose()


def build_adapters(settings: Settings, *, registry: JobRegistry | None = None) -> Adapters:
    registry = registry or build_job_registry()
    database = Database(settings.effective_database_url)
    jobs: JobQueue
    store: Store
    if settings.redis_url:
        jobs = ArqJobQueue(settings.redis_url)
        # Short timeouts: a Redis that hangs must cost a request a second or two, then a 503.
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
        store = RedisStore(redis, namespace="allmende", handle_client_shutdown=True)
    else:
        jobs = InProcessJobQueue(registry)
        # Namespaced stores (the throttles) make their folder inside this one, but not this one itself.
        (settings.data_dir / "store").mkdir(parents=True, exist_ok=True)
        store = FileStore(settings.data_dir / "store")
    adapters = Adapters(
        settings=settings,
        database=database,
        jobs=jobs,
        registry=registry,
        store=store,
        search=build_search_engine(settings),
        documents=build_document_registry(),
        mailer=build_mailer(settings.smtp_url, settings.mail_from),  # issue 7
    )
    if isinstance(jobs, InProcessJobQueue):
        jobs.bind(adapters.job_context())
    return adapters


def in_memory_adapters(
    settings: Settings, database: Database, *, registry: JobRegistry | None = None, backoff_base: float = 1.0
) -> Adapters:
    """The embedded profile with nothing on disk but the database: a memory store and an in-memory index.
    For the tests and the contract snapshot; the in-process queue is bound but not started."""
    registry = registry or build_job_registry()
    jobs = (
        InProcessJobQueue(registry) if backoff_base is None else InProcessJobQueue(registry, backoff_base=backoff_base)
    )
    adapters = Adapters(
        settings=settings,
        database=database,
        jobs=jobs,
        registry=registry,
        store=MemoryStore(),
        search=EmbeddedSearchEngine(None),
        documents=build_document_registry(),
    )
    jobs.bind(adapters.job_context())
    return adapters


def readiness_checks(adapters: Adapters) -> ReadinessChecks:
    checks = ReadinessChecks()
    checks.add("database", adapters.database.dialect, adapters.database.ping)
    checks.add("jobs", "redis" if adapters.settings.redis_url else "in-process", adapters.jobs.ping)
    checks.add("search", "meilisearch" if adapters.settings.meili_url else "embedded", adapters.search.health)
    return checks


async def _principal(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Principal:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send the API token as 'Authorization: Bearer <token>'", field="Authorization")
        return await account_services.principal_for_token(db_session, token.strip())
    if "session" not in request.scope:
        return ANONYMOUS
    if request.scope.get("state", {}).get(UNAVAILABLE_MARK):
        # A session cookie came, but the store is away: we cannot tell who this is. 503, not anonymous,
        # so that nobody is shown a page as if signed out or loses a form to a misleading 401.
        raise store_unavailable()
    login = (request.session or {}).get("login")  # a signed-in session the person can list and end
    if not login:
        return ANONYMOUS
    return await identity_services.sessions.resolve(db_session, str(login)) or ANONYMOUS


ROUTES = [
    healthz,
    readyz,
    *IDENTITY_ROUTES,  # issue 14: sign-in, registration, links, sessions, the account, single sign-on
    OrganizationController,
    *MARKETPLACE_ROUTES,
    *OFFER_REQUEST_ROUTES,
    *KNOWLEDGE_ROUTES,
    SearchController,
    InboxController,  # issue 7
    *web_routes(),
]


def create_app(settings: Settings | None = None, adapters: Adapters | None = None) -> Litestar:
    from allmende.web import html_aware

    settings = settings or (adapters.settings if adapters else load_settings())
    owns_adapters = adapters is None
    adapters = adapters or build_adapters(settings)
    configure_logging(json=settings.log_json)
    checks = readiness_checks(adapters)
    oidc_http = OidcHttp()  # issue 14: the sign-in providers' discovery and keys, cached per app
    search_api = SearchApi(
        engine=adapters.search,
        schema=adapters.documents.schema(),
        sorts=SEARCH_SORTS,
        paths={t.name: t.api_path for t in adapters.documents.types.values()},
    )

    async def provide_session() -> AsyncIterator[AsyncSession]:
        # The unit of work: commit after the handler returned, roll back if it raised.
        async with adapters.database.unit_of_work() as session:
            yield session
        await enqueue_pending(session, adapters.jobs)  # issue 7: mails written by this unit of work, after commit
        last_seq = session.info.get("last_change_seq")
        if last_seq is not None:
            # Nudge the derived stores; the periodic drain catches up anyway if this is lost.
            with contextlib.suppress(Exception):
                await adapters.jobs.enqueue(DRAIN_JOB.name, job_id=f"{DRAIN_JOB.name}:{last_seq}")

    async def principal_lookup(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
        # Who a request is, for the guard of the signed-in pages: guards run before the dependencies,
        # so the guard asks here, with the same rules as the ``principal`` dependency.
        async with adapters.database.unit_of_work() as session:
            return await _principal(cast(Request[Any, Any, Any], connection), session)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if owns_adapters:
            with contextlib.suppress(SearchUnavailable):  # readiness reports it; writes go on regardless
                await adapters.start()
        if owns_adapters and isinstance(adapters.jobs, InProcessJobQueue):
            adapters.jobs.start()
        try:
            yield
        finally:
            if owns_adapters:
                await adapters.close()

    store = adapters.store if isinstance(adapters.store, GuardedStore) else GuardedStore(adapters.store)
    session_config = LazySessionConfig(
        secure=settings.secure_cookies,
        samesite="lax",
        max_age=8 * 3600,
        renew_on_access=True,  # sessions are written only on change; reading keeps an active one alive
        exclude=["/healthz", "/readyz", "/schema", "/api/v1/search"],
    )
    return Litestar(
        route_handlers=ROUTES,
        template_config=template_config(),
        dependencies={
            "db_session": Provide(provide_session),
            "principal": Provide(_principal),
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "adapters": Provide(lambda: adapters, use_cache=True, sync_to_thread=False),
            "readiness": Provide(lambda: checks, use_cache=True, sync_to_thread=False),
            "search_api": Provide(lambda: search_api, use_cache=True, sync_to_thread=False),
            "oidc_http": Provide(lambda: oidc_http, use_cache=True, sync_to_thread=False),  # issue 14
            "login_throttle": Provide(
                lambda: LoginThrottle(store.with_namespace("login")),
                use_cache=True,
                sync_to_thread=False,
            ),
            "throttle": Provide(  # issue 14: every attempt counts (registration, reset, links, current password)
                lambda: Throttle(store.with_namespace("throttle")),
                use_cache=True,
                sync_to_thread=False,
            ),
            "code_throttle": Provide(  # issue 14: second-factor codes
                # (FileStore takes only letters and digits in a namespace)
                lambda: identity_services.second_factor.throttle(store.with_namespace("secondfactor")),
                use_cache=True,
                sync_to_thread=False,
            ),
        },
        middleware=[
            RequestContextMiddleware,
            session_config.middleware,
            DefineMiddleware(
                TokenAwareCSRFMiddleware,
                config=csrf_config(settings.effective_secret_key, secure=settings.secure_cookies),
            ),
        ],
        stores={"sessions": store},
        state=State({PRINCIPAL_LOOKUP: principal_lookup}),
        before_request=require_json_body,
        # browsers get the web's German error pages; outages of the database or Redis are 503s
        exception_handlers=html_aware({**exception_handlers, **OUTAGE_HANDLERS}),
        openapi_config=OpenAPIConfig(
            title="Allmende API",
            version="1",
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
            description="Catalog, knowledge hub and federation of Allmende.",
        ),
        request_max_body_size=MAX_BODY_BYTES,
        response_cache_config=ResponseCacheConfig(),
        lifespan=[lifespan],
        debug=settings.debug,
    )


__all__ = ["Adapters", "MemoryStore", "build_adapters", "create_app"]

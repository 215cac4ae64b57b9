"""The web catalog: server-rendered, German-first pages on top of the domain services.

This package is presentation only: it calls services and is wired into the app by the composition
root through ``web_routes()``, ``template_config()`` and ``html_aware()`` (error pages for browsers).
Its code is arranged by area (``catalog``, ``knowledge``, ``search``, ``offer_requests``, the inbox,
the sign-in, moderation) on the shared page machinery in ``kit``.
See ``README.md`` beside this file for the pages, the i18n workflow and the render budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from allmende.web import inbox, moderation, signin
from allmende.web.account import pages as account
from allmende.web.account import providers as account_providers
from allmende.web.account import second_factor as account_second_factor
from allmende.web.catalog import municipality, vendor
from allmende.web.catalog import pages as catalog
from allmende.web.kit.errors import PAGE_HANDLERS, html_aware
from allmende.web.kit.render import TEMPLATES, provide_locale, template_engine
from allmende.web.kit.viewer import provide_viewer, signed_in_only
from allmende.web.knowledge import guides, hub
from allmende.web.offer_requests import pages as offers
from allmende.web.organizations import pages as organizations
from allmende.web.search import pages as search

STATIC = Path(__file__).parent / "static"

__all__ = ["TEMPLATES", "html_aware", "template_config", "web_routes"]


def signed_in_router(*handlers: Any, back: str = "/") -> Router:
    """Pages for signed-in users: the guard sends an anonymous viewer to the sign-in (``kit/viewer.py``)."""
    return Router(path="/", route_handlers=list(handlers), guards=[signed_in_only(back)])


def web_routes() -> list[Any]:
    pages = Router(
        path="/",
        route_handlers=[
            *catalog.ROUTES,
            *search.ROUTES,
            *hub.ROUTES,
            *guides.ROUTES,
            *signin.ROUTES,
            *account.ROUTES,
            *account_providers.ROUTES,
            *organizations.ROUTES,  # issue 14: the invitation page works without an account
            signed_in_router(*organizations.SIGNED_IN),
            *account_second_factor.ROUTES,
            signed_in_router(*vendor.ROUTES, *municipality.ROUTES),
            signed_in_router(*guides.SIGNED_IN),
            signed_in_router(*moderation.ROUTES),
            signed_in_router(*offers.ROUTES),
            signed_in_router(*inbox.ROUTES, back=inbox.INBOX),
            signed_in_router(*account.SIGNED_IN, back=account.KONTO),
            signed_in_router(*account_providers.SIGNED_IN, back=account_providers.PROVIDERS_PAGE),
            signed_in_router(*account_second_factor.SIGNED_IN, back=account_second_factor.ACCOUNT),
        ],
        dependencies={"viewer": Provide(provide_viewer)},
        before_request=provide_locale,
        exception_handlers=PAGE_HANDLERS,
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/static",
        directories=[STATIC],
        name="static",
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=3600, public=True),
    )
    return [pages, static]


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=template_engine())

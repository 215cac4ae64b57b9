"""The web catalog: server-rendered, German-first pages on top of the domain services.

This package is presentation only: it calls services and is wired into the app by the composition
root through ``web_routes()``, ``template_config()`` and ``html_aware()`` (error pages for browsers).
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

from allmende.web import catalog, guides, hub, inbox, moderation, municipality, offers, search, signin, vendor
from allmende.web.errors import PAGE_HANDLERS, html_aware
from allmende.web.render import TEMPLATES, template_engine
from allmende.web.views import provide_locale, provide_viewer

STATIC = Path(__file__).parent / "static"

__all__ = ["TEMPLATES", "html_aware", "template_config", "web_routes"]


def web_routes() -> list[Any]:
    pages = Router(
        path="/",
        route_handlers=[
            *catalog.ROUTES,
            *search.ROUTES,
            *hub.ROUTES,
            *guides.ROUTES,
            *signin.ROUTES,
            *vendor.ROUTES,
            *moderation.ROUTES,
            *municipality.ROUTES,
            *offers.ROUTES,
            *inbox.ROUTES,
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

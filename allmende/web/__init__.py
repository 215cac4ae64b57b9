"""The web catalog: server-rendered, German-first pages on top of the domain services.

This package is presentation only: it calls services (never models directly) and is wired into the
app by the composition root through ``web_routes()`` and ``template_config()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, get
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

TEMPLATES = Path(__file__).parent / "templates"


@get("/", include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Template:
    return Template("home.html", context={})


def web_routes() -> list[Any]:
    return [home]


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)

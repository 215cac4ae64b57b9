"""The knowledge hub's reading pages: a case study, a guide, and the Stufenplan stages.

The lists of case studies and guides run on the search engine (``search.py``); the guide editor is in
``guides.py``. Unknown slugs and stage numbers get a 404 page that says what was not found and offers
the list and a search for the words of the address.
"""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.params import FromPath

from allmende.accounts import services as accounts
from allmende.accounts.regions import BUNDESLAENDER
from allmende.core.problems import NotFound
from allmende.web.kit import i18n
from allmende.web.kit.i18n import N_, gettext
from allmende.web.kit.render import not_found, page
from allmende.web.kit.viewer import Caller, Config, Session, Viewer, Who
from allmende.web.kit.vocabularies import load_vocabularies
from knowledge import policies
from knowledge import services as knowledge

STAGE_NUMBERS = range(1, 5)


async def organization_name(db_session: Any, slug: str | None) -> str | None:
    """The display name of an author organization (the knowledge API names it by slug)."""
    if not slug:
        return None
    try:
        return (await accounts.get_organization(db_session, slug)).name
    except NotFound:
        return None


def _words(slug: str) -> str:
    return " ".join(slug.replace("-", " ").split())[:100]


# What is missing (for a 404), and its list: (message, list address, the list's link text).
_MISSING = {
    "case_study": (
        N_(
            "Diese Fallstudie gibt es nicht (mehr), oder sie ist noch nicht veröffentlicht. "
            "Vielleicht finden Sie sie in der Liste oder über die Suche."
        ),
        "/fallstudien",
        N_("Alle Fallstudien"),
    ),
    "guide": (
        N_(
            "Diesen Leitfaden gibt es nicht (mehr), oder er ist noch nicht veröffentlicht. "
            "Vielleicht finden Sie ihn in der Liste oder über die Suche."
        ),
        "/leitfaeden",
        N_("Alle Leitfäden"),
    ),
}


def _missing(viewer: Viewer, slug: str, kind: str) -> Any:
    """A 404 for an unknown entry: what is missing, its list, and a search for the address's words."""
    message, listing, label = _MISSING[kind]
    return not_found(viewer, gettext(message), links=[(listing, gettext(label))], query=_words(slug))


def case_study_missing(viewer: Viewer, slug: str) -> Any:
    return _missing(viewer, slug, "case_study")


def guide_missing(viewer: Viewer, slug: str) -> Any:
    return _missing(viewer, slug, "guide")


@get("/fallstudien/{slug:str}", name="web:case-study")
async def case_study_page(
    slug: FromPath[str], db_session: Session, principal: Caller, settings: Config, viewer: Who
) -> Any:
    try:
        study = await knowledge.get_case_study(db_session, principal, slug[:100])
    except NotFound:
        return case_study_missing(viewer, slug)
    out = await knowledge.case_study_out(db_session, principal, study, settings.base_url)
    return page(
        "knowledge/case_study.html",
        {
            "viewer": viewer,
            "vocab": await load_vocabularies(db_session),
            "c": out,
            "author": await organization_name(db_session, out.author_organization),
            "bundeslaender": BUNDESLAENDER,
        },
    )


@get("/leitfaeden/{slug:str}", name="web:guide")
async def guide_page(slug: FromPath[str], db_session: Session, principal: Caller, settings: Config, viewer: Who) -> Any:
    try:
        guide = await knowledge.get_guide(db_session, principal, slug[:100])
    except NotFound:
        return guide_missing(viewer, slug)
    out = await knowledge.guide_out(db_session, guide, settings.base_url)
    return page(
        "knowledge/guide.html",
        {
            "viewer": viewer,
            "vocab": await load_vocabularies(db_session),
            "g": out,
            "author": await organization_name(db_session, out.author_organization),
            "can_edit": policies.may_edit_guide(principal, guide),
        },
    )


@get("/stufen", name="web:stages")
async def stages_page(db_session: Session, viewer: Who) -> Any:
    return page(
        "knowledge/stages.html",
        {"viewer": viewer, "stages": await knowledge.stages(db_session), "english": i18n.current() == "en"},
    )


@get("/stufen/{number:int}", name="web:stage")
async def stage_page(number: FromPath[int], db_session: Session, viewer: Who) -> Any:
    try:
        detail = await knowledge.stage(db_session, number)
    except NotFound:
        return not_found(
            viewer,
            gettext("Der Stufenplan hat die Stufen 1 bis 4. Eine Stufe %(n)s gibt es nicht.", n=str(number)[:12]),
            links=[(f"/stufen/{n}", gettext("Stufe %(n)s", n=n)) for n in STAGE_NUMBERS],
        )
    english = i18n.current() == "en"
    return page(
        "knowledge/stage.html",
        {
            "viewer": viewer,
            "stage": detail,
            "title": detail.title_en if english and detail.title_en else detail.title_de,
            "title_lang": "en" if english and detail.title_en else "de",
            "description": detail.description_en if english and detail.description_en else detail.description_de,
            "description_lang": "en" if english and detail.description_en else "de",
            "previous": detail.number - 1 if detail.number - 1 in STAGE_NUMBERS else None,
            "following": detail.number + 1 if detail.number + 1 in STAGE_NUMBERS else None,
        },
    )


ROUTES = [case_study_page, guide_page, stages_page, stage_page]

"""The municipality's page: what it uses (references), record a use of a published solution, withdraw one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import get, post
from litestar.params import FromPath

from allmende.core.problems import Conflict, Forbidden, InvalidInput, NotFound
from allmende.core.types import utcnow
from allmende.web.kit.forms import FormState
from allmende.web.kit.i18n import gettext
from allmende.web.kit.render import forbidden, page, redirect
from allmende.web.kit.viewer import AnyRequest, Session, Viewer, Who
from allmende.web.kit.vocabularies import load_vocabularies
from marketplace import services as marketplace
from marketplace.schemas import ReferenceIn

MAX_STATEMENT = 1000


@dataclass
class ClaimForm(FormState):
    organization: str = ""


def _forbidden(viewer: Viewer) -> Any:
    return forbidden(
        viewer,
        gettext("Diese Seite ist für Mitglieder einer Kommune, eines Landkreises, eines Verbunds oder eines Landes."),
    )


async def _page(db_session: Any, viewer: Viewer, claim: ClaimForm | None = None, preselect: str = "") -> Any:
    sections = []
    for membership in viewer.public_orgs:
        org = membership.organization
        sections.append((org, await marketplace.references_of(db_session, org)))
    return page(
        "catalog/municipality.html",
        {
            "viewer": viewer,
            "vocab": await load_vocabularies(db_session),
            "sections": sections,
            "options": await marketplace.published_options(db_session),
            "claim": claim or ClaimForm(),
            "preselect": preselect,
            "max_statement": MAX_STATEMENT,
        },
        status=422 if claim and claim.errors else 200,
    )


@get("/kommune", name="web:municipality")
async def municipality(request: AnyRequest, db_session: Session, viewer: Who) -> Any:
    if not viewer.public_orgs:
        return _forbidden(viewer)
    return await _page(db_session, viewer, preselect=request.query_params.get("loesung", "")[:100])


def _membership(viewer: Viewer, org_slug: str) -> Any:
    for membership in viewer.public_orgs:
        if membership.organization.slug == org_slug:
            return membership.organization
    return None


@post("/kommune/{org:str}/referenzen", name="web:claim", status_code=303)
async def claim(request: AnyRequest, org: FromPath[str], db_session: Session, viewer: Who) -> Any:
    organization = _membership(viewer, org)
    if organization is None:
        return _forbidden(viewer)
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("solution", "mode", "since", "statement")}
    claim_form = ClaimForm(organization=org, values=values)
    vocab = await load_vocabularies(db_session)
    solution = None
    if not values["solution"]:
        claim_form.errors["solution"] = gettext("Bitte wählen Sie die Lösung, die Ihre Organisation nutzt.")
    else:
        try:
            solution = await marketplace.get_solution(db_session, viewer.principal, values["solution"])
        except NotFound:
            claim_form.errors["solution"] = gettext("Diese Lösung gibt es nicht im Katalog.")
    if values["mode"] not in vocab.keys("reference-modes"):
        claim_form.errors["mode"] = gettext("Bitte wählen Sie, wie Ihre Organisation die Lösung nutzt.")
    since = claim_form.day("since")
    if since is not None and since > utcnow().date():
        claim_form.errors["since"] = gettext("Das Datum liegt in der Zukunft.")
    if len(values["statement"]) > MAX_STATEMENT:
        claim_form.errors["statement"] = gettext(
            "Der Text ist zu lang: höchstens %(max)s Zeichen.", max=str(MAX_STATEMENT)
        )
    if not claim_form.errors and solution is not None:
        try:
            await marketplace.claim_reference(
                db_session,
                viewer.principal,
                solution,
                organization,
                ReferenceIn(since=since, mode=values["mode"], statement=values["statement"] or None),
            )
        except Conflict:
            claim_form.errors["solution"] = gettext(
                "Referenzen lassen sich nur für veröffentlichte Lösungen eintragen."
            )
        except (Forbidden, InvalidInput) as problem:
            claim_form.errors["solution"] = gettext(
                "Die Referenz konnte nicht eingetragen werden: %(detail)s", detail=problem.detail
            )
    if claim_form.errors:
        return await _page(db_session, viewer, claim_form)
    return redirect("/kommune", "claimed")


@post(
    "/kommune/{org:str}/referenzen/{slug:str}/zurueckziehen",
    name="web:withdraw",
    status_code=303,
)
async def withdraw(
    request: AnyRequest, org: FromPath[str], slug: FromPath[str], db_session: Session, viewer: Who
) -> Any:
    organization = _membership(viewer, org)
    if organization is None:
        return _forbidden(viewer)
    solution = await marketplace.get_solution(db_session, viewer.principal, slug)
    await marketplace.withdraw_reference(db_session, viewer.principal, solution, organization)
    return redirect("/kommune", "withdrawn")


ROUTES = [municipality, claim, withdraw]

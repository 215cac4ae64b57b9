"""Offer requests in the web: list, create and edit, send, bundle (join, change, leave), the vendor's offer
and its revisions, the side-by-side comparison, the decision, each participant's acceptance, the conversation.

Every page is a view of ``offer_requests.services``: what a visitor may see and do is decided there, exactly as
for the API. A form's action runs inside a savepoint, so an action the service refuses leaves nothing
half-written although the page's unit of work commits (it still renders the form again, with the input).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from litestar import get, post
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core.problems import Conflict, NotFound, PreconditionFailed, Problem
from allmende.core.types import utcnow
from allmende.web.kit.i18n import N_, gettext
from allmende.web.kit.render import forbidden, not_found, page, redirect
from allmende.web.kit.viewer import AnyRequest, Session, Viewer, Who
from allmende.web.kit.vocabularies import load_vocabularies
from allmende.web.offer_requests.forms import (
    HOSTING_LOCATIONS,
    OFFER_LABELS,
    PRICE_KINDS,
    QUANTITY_FIELDS,
    REQUEST_LABELS,
    JoinForm,
    OfferForm,
    RequestForm,
    moment_text,
)
from marketplace import services as marketplace
from offer_requests import policies, services
from offer_requests.schemas import DecisionIn, OfferFields, OfferOut, OfferRequestOut
from offer_requests.services import OfferRequestState

PAGE_SIZE = 20
# The tabs of the list: the URL's word → the service's relation.
TABS: dict[str, str | None] = {
    "alle": None,
    "eigene": "requester",
    "beteiligt": "participant",
    "anbieter": "vendor",
    "beitreten": "joinable",
}
TAB_LABELS = {
    "alle": N_("Alle"),
    "eigene": N_("Eigene Anfragen"),
    "beteiligt": N_("Beteiligungen"),
    "anbieter": N_("An Ihr Unternehmen"),
    "beitreten": N_("Zum Mitmachen offen"),
}
REQUEST_STATE_LABELS = {
    "draft": N_("Entwurf"),
    "open": N_("Offen für Angebote"),
    "closed": N_("Frist abgelaufen"),
    "withdrawn": N_("Zurückgezogen"),
    "awarded": N_("Entschieden: Angebot bevorzugt"),
    "not_awarded": N_("Entschieden: kein Angebot"),
}
RELATION_LABELS = {
    "requester": N_("anfragende Stelle"),
    "participant": N_("Teilnehmer"),
    "vendor": N_("angefragter Anbieter"),
    "prospect": N_("kann mitmachen"),
}
DEFAULT_DEADLINE_DAYS = 21
MAX_REASON = 2000
MAX_MESSAGE = 10_000
MAX_MESSAGES = 100  # a thread page shows the first hundred (the API pages further)


def _etag(rid: uuid.UUID, version: str) -> str:
    return f'"{rid}.{version}"'


@asynccontextmanager
async def _all_or_nothing(session: AsyncSession) -> AsyncIterator[None]:
    """A savepoint around a form's action: a refused action is rolled back entirely."""
    async with session.begin_nested():
        yield


def _refusal(problem: Problem) -> str:
    """A German sentence for a refusal of the service (the English detail says the particular)."""
    if isinstance(problem, PreconditionFailed):
        return gettext(
            "Die Anfrage wurde inzwischen geändert. Bitte prüfen Sie den aktuellen Stand und versuchen Sie es erneut."
        )
    if isinstance(problem, Conflict) and problem.field == "state":
        return gettext(
            "Das ist im aktuellen Stand der Anfrage nicht (mehr) möglich (%(detail)s).", detail=problem.detail
        )
    if problem.status == 403:
        return gettext("Dazu fehlt Ihnen die Berechtigung (%(detail)s).", detail=problem.detail)
    return gettext("Das hat nicht geklappt: %(detail)s", detail=problem.detail)


def _no_public_body(viewer: Viewer) -> Any:
    return forbidden(
        viewer,
        gettext(
            "Angebote anfragen können Mitglieder einer Kommune, eines Landkreises, eines Verbunds oder eines Landes."
        ),
    )


def _missing(viewer: Viewer) -> Any:
    return not_found(
        viewer,
        gettext("Diese Angebotsanfrage gibt es nicht, oder sie ist für Sie nicht sichtbar."),
        links=[("/anfragen", gettext("Ihre Angebotsanfragen"))],
    )


# --- the list ----------------------------------------------------------------------------------------------


@get("/anfragen", name="web:offer-requests")
async def list_requests(request: AnyRequest, db_session: Session, viewer: Who) -> Any:
    tab = request.query_params.get("ansicht", "alle")
    tab = tab if tab in TABS else "alle"
    state = request.query_params.get("status") or None
    state = state if state in REQUEST_STATE_LABELS else None
    cursor = request.query_params.get("weiter") or None
    try:
        found = await services.list_offer_requests(
            db_session, viewer.principal, relation=TABS[tab], state=state, limit=PAGE_SIZE, cursor=cursor
        )
    except Problem:  # a mangled cursor: start from the top
        found = await services.list_offer_requests(
            db_session, viewer.principal, relation=TABS[tab], state=state, limit=PAGE_SIZE
        )
    return page(
        "offer_requests/offer_requests.html",
        {
            "viewer": viewer,
            "found": found,
            "tab": tab,
            "tabs": TAB_LABELS,
            "state": state,
            "state_names": REQUEST_STATE_LABELS,
            "relation_names": RELATION_LABELS,
        },
    )


# --- create and edit ---------------------------------------------------------------------------------------


async def _form_page(
    db_session: AsyncSession,
    viewer: Viewer,
    form: RequestForm,
    *,
    out: OfferRequestOut | None = None,
    status: int = 200,
) -> Any:
    return page(
        "offer_requests/offer_request_form.html",
        {
            "viewer": viewer,
            "form": form,
            "draft": out,
            "vocab": await load_vocabularies(db_session),
            "options": await marketplace.published_options(db_session),
            "labels": REQUEST_LABELS,
            "orgs": [m.organization for m in viewer.public_orgs],
        },
        status=status,
    )


@get("/anfragen/neu", name="web:offer-request-new")
async def new_request(request: AnyRequest, db_session: Session, viewer: Who) -> Any:
    if not viewer.public_orgs:
        return _no_public_body(viewer)
    solution = request.query_params.get("loesung", "")[:100]
    deadline, _ = moment_text(utcnow() + timedelta(days=DEFAULT_DEADLINE_DAYS))
    orgs = viewer.public_orgs
    form = RequestForm(
        values={
            "organization": orgs[0].organization.slug if len(orgs) == 1 else "",
            "addressing": "solution",
            "solution": solution,
            "deadline": deadline,
            "deadline_time": "12:00",
            "sectors": [],
            "standards": [],
        }
    )
    return await _form_page(db_session, viewer, form)


@post("/anfragen/neu", name="web:offer-request-create", status_code=200)
async def create_request(request: AnyRequest, db_session: Session, viewer: Who) -> Any:
    if not viewer.public_orgs:
        return _no_public_body(viewer)
    raw = await request.form()
    form = RequestForm.from_post(raw)
    if form.values["organization"] and form.values["organization"] not in {
        m.organization.slug for m in viewer.public_orgs
    }:
        form.fail("organization", gettext("Bitte wählen Sie eine Stelle, der Sie angehören."))
    data = form.create_input()
    send = raw.get("danach") == "versenden"
    if data is not None and not form.errors:
        try:
            async with _all_or_nothing(db_session):
                created = await services.create_offer_request(db_session, viewer.principal, data)
                if send:
                    await services.open_offer_request(db_session, viewer.principal, created.uuid)
        except Problem as problem:
            form.service_error(problem.field, problem.detail)
    if data is None or form.errors:
        return await _form_page(db_session, viewer, form, status=422)
    return redirect(f"/anfragen/{created.uuid}", "request-opened" if send else "request-created")


async def _own_draft(db_session: AsyncSession, viewer: Viewer, rid: uuid.UUID) -> OfferRequestOut | None:
    """The request, if the viewer's organization drafted it (None: not visible at all)."""
    try:
        _, out = await services.get_offer_request(db_session, viewer.principal, rid)
    except NotFound:
        return None
    return out


def _requester_quantities(out: OfferRequestOut) -> Any:
    for participant in out.bundle.participants or []:
        if participant.requester:
            return participant.quantities
    return None


@get("/anfragen/{rid:uuid}/bearbeiten", name="web:offer-request-edit")
async def edit_request(request: AnyRequest, rid: FromPath[uuid.UUID], db_session: Session, viewer: Who) -> Any:
    out = await _own_draft(db_session, viewer, rid)
    if out is None:
        return _missing(viewer)
    if "requester" not in out.relation or out.state != OfferRequestState.draft.value:
        return redirect(f"/anfragen/{rid}", "wrong-state")
    form = RequestForm.from_request(out, _requester_quantities(out))
    form.values["version"] = str(out.version)
    return await _form_page(db_session, viewer, form, out=out)


@post("/anfragen/{rid:uuid}/bearbeiten", name="web:offer-request-update", status_code=200)
async def update_request(request: AnyRequest, rid: FromPath[uuid.UUID], db_session: Session, viewer: Who) -> Any:
    out = await _own_draft(db_session, viewer, rid)
    if out is None:
        return _missing(viewer)
    if "requester" not in out.relation or out.state != OfferRequestState.draft.value:
        return redirect(f"/anfragen/{rid}", "wrong-state")
    raw = await request.form()
    form = RequestForm.from_post(raw)
    form.values["organization"] = out.requester.slug
    version = str(raw.get("version") or "")
    form.values["version"] = version
    payload = form.payload(organization=out.requester.slug)
    send = raw.get("danach") == "versenden"
    status = 422
    if payload is not None:
        changes = {k: v for k, v in payload.items() if k != "organization"}
        try:
            async with _all_or_nothing(db_session):
                await services.update_offer_request(db_session, viewer.principal, rid, changes, _etag(rid, version))
                if send:
                    await services.open_offer_request(db_session, viewer.principal, rid)
        except PreconditionFailed:
            status = 409
            form.fail(
                "_form",
                gettext(
                    "Jemand hat den Entwurf inzwischen geändert. Ihre Angaben stehen unten; die aktuelle Fassung "
                    "sehen Sie auf der Seite der Anfrage. Speichern Sie erneut, um sie mit Ihren Angaben zu ersetzen."
                ),
            )
            form.values["version"] = str(out.version)
        except Problem as problem:
            form.service_error(problem.field, problem.detail)
    if payload is None or form.errors:
        return await _form_page(db_session, viewer, form, out=out, status=status)
    return redirect(f"/anfragen/{rid}", "request-opened" if send else "saved")


# --- one request --------------------------------------------------------------------------------------------


@dataclass
class Feedback:
    """What a refused action on the request's page leaves there: a message, and the join form's input."""

    message: str = ""
    join: JoinForm = field(default_factory=JoinForm)
    decision: dict[str, str] = field(default_factory=dict)
    status: int = 200


def _my_shares(offer: OfferOut, mine: set[str]) -> list[Any]:
    if offer.latest is None:
        return []
    return [p for p in offer.latest.per_participant if p.organization.slug in mine]


async def _detail(db_session: AsyncSession, viewer: Viewer, rid: uuid.UUID, feedback: Feedback | None = None) -> Any:
    feedback = feedback or Feedback()
    try:
        relation = await policies.load_offer_request(db_session, viewer.principal, rid)
    except NotFound:
        return _missing(viewer)
    out = await services.offer_request_out(db_session, relation)
    offers: list[OfferOut] = []
    threads: list[Any] = []
    if relation.participant or relation.vendor:
        offers = (await services.list_offers(db_session, viewer.principal, rid)).items
        if out.state not in (OfferRequestState.draft.value,):
            threads = (await services.list_threads(db_session, viewer.principal, rid)).items
    my_slugs = {m.organization.slug for m in viewer.memberships}
    participants = out.bundle.participants or []
    participating = {p.organization.slug for p in participants}
    now = utcnow()
    open_for_changes = out.state == OfferRequestState.open.value and out.deadline > now
    joinable = [m.organization for m in viewer.public_orgs if m.organization.slug not in participating]
    own = [p for p in participants if p.organization.slug in my_slugs]
    if own and not feedback.join.values and not (relation.prospect and joinable):
        # "Eigene Mengen ändern" starts from what is stored, so changing one number keeps the others.
        current = own[0].quantities
        values = {name: str(getattr(current, name)) for name in QUANTITY_FIELDS}
        feedback.join = JoinForm(values={"organization": own[0].organization.slug, **values})
    unsealed = [o for o in offers if not o.sealed and o.latest is not None]
    return page(
        "offer_requests/offer_request.html",
        {
            "viewer": viewer,
            "r": out,
            "offers": offers,
            "side_by_side": unsealed if relation.participant else [],
            "threads": threads,
            "mine": my_slugs,
            "my_participations": own,
            "joinable": joinable if relation.prospect and open_for_changes else [],
            "open_for_changes": open_for_changes,
            "deadline_passed": out.deadline <= now,
            "is_requester": relation.requester,
            "is_participant": relation.participant,
            "is_vendor": relation.vendor,
            "my_shares": {o.uuid: _my_shares(o, my_slugs) for o in offers},
            "state_names": REQUEST_STATE_LABELS,
            "relation_names": RELATION_LABELS,
            "price_kinds": PRICE_KINDS,
            "hosting_names": HOSTING_LOCATIONS,
            "vocab": await load_vocabularies(db_session),
            "feedback": feedback,
            "quantity_fields": QUANTITY_FIELDS,
            "labels": REQUEST_LABELS,
            "max_reason": MAX_REASON,
        },
        status=feedback.status,
    )


@get("/anfragen/{rid:uuid}", name="web:offer-request")
async def show_request(request: AnyRequest, rid: FromPath[uuid.UUID], db_session: Session, viewer: Who) -> Any:
    return await _detail(db_session, viewer, rid)


async def _act(
    db_session: AsyncSession, viewer: Viewer, rid: uuid.UUID, action: Any, notice: str, *, anchor: str = ""
) -> Any:
    """Run a button's action all or nothing; on refusal show the request again with the reason."""
    try:
        async with _all_or_nothing(db_session):
            await action()
    except NotFound:
        return _missing(viewer)
    except Problem as problem:
        status = 409 if problem.status in (409, 412) else problem.status
        return await _detail(db_session, viewer, rid, Feedback(message=_refusal(problem), status=status))
    return redirect(f"/anfragen/{rid}{anchor}", notice)


@post("/anfragen/{rid:uuid}/versenden", name="web:offer-request-open", status_code=303)
async def open_request(request: AnyRequest, rid: FromPath[uuid.UUID], db_session: Session, viewer: Who) -> Any:
    version = str((await request.form()).get("version") or "")

    async def action() -> None:
        await services.open_offer_request(db_session, viewer.principal, rid, _etag(rid, version))

    return await _act(db_session, viewer, rid, action, "request-opened")


@post("/anfragen/{rid:uuid}/zurueckziehen", name="web:offer-request-withdraw", status_code=303)
async def withdraw_request(request: AnyRequest, rid: FromPath[uuid.UUID], db_session: Session, viewer: Who) -> Any:
    raw = await request.form()
    version = str(raw.get("version") or "")
    reason = str(raw.get("reason") or "").strip()[:MAX_REASON] or None

    async def action() -> None:
        await services.withdraw_offer_request(db_session, viewer.principal, rid, reason, _etag(rid, version))

    return await _act(db_session, viewer, rid, action, "request-withdrawn")


@post("/anfragen/{rid:uuid}/beteiligung", name="web:offer-request-join", status_code=303)
async def join(request: AnyRequest, rid: FromPath[uuid.UUID], db_session: Session, viewer: Who) -> Any:
    """Join the bundle with an organization's own quantities, or change them (same form)."""
    form = JoinForm.from_post(await request.form())
    slug = form.values["organization"]
    if slug not in {m.organization.slug for m in viewer.public_orgs}:
        form.fail("organization", gettext("Bitte wählen Sie eine Stelle, der Sie angehören."))
    quantities = form.quantities()
    if quantities is not None and not form.errors:
        try:
            async with _all_or_nothing(db_session):
                _, joined = await services.join_offer_request(db_session, viewer.principal, rid, slug, quantities)
        except NotFound as problem:
            if problem.field == "offer_request":
                return _missing(viewer)
            form.fail("organization", _refusal(problem))
        except Problem as problem:
            return await _detail(db_session, viewer, rid, Feedback(message=_refusal(problem), join=form, status=422))
    if form.errors:
        return await _detail(db_session, viewer, rid, Feedback(join=form, status=422))
    return redirect(f"/anfragen/{rid}#buendel", "bundle-joined" if joined else "bundle-changed")


@post(
    "/anfragen/{rid:uuid}/beteiligung/{org:str}/verlassen",
    name="web:offer-request-leave",
    status_code=303,
)
async def leave(
    request: AnyRequest, rid: FromPath[uuid.UUID], org: FromPath[str], db_session: Session, viewer: Who
) -> Any:

    async def action() -> None:
        await services.leave_offer_request(db_session, viewer.principal, rid, org)

    return await _act(db_session, viewer, rid, action, "bundle-left")


@post(
    "/anfragen/{rid:uuid}/beteiligung/{org:str}/zusage",
    name="web:offer-request-accept",
    status_code=303,
)
async def accept(
    request: AnyRequest, rid: FromPath[uuid.UUID], org: FromPath[str], db_session: Session, viewer: Who
) -> Any:
    """Each participant accepts or declines the preferred offer for itself."""
    answer = str((await request.form()).get("zusage") or "")
    if answer not in ("ja", "nein"):
        return await _detail(
            db_session, viewer, rid, Feedback(message=gettext("Bitte nehmen Sie an oder lehnen Sie ab."), status=422)
        )

    async def action() -> None:
        await services.set_acceptance(db_session, viewer.principal, rid, org, answer == "ja")

    return await _act(
        db_session, viewer, rid, action, "accepted" if answer == "ja" else "declined", anchor="#entscheidung"
    )


@post("/anfragen/{rid:uuid}/entscheidung", name="web:offer-request-decide", status_code=303)
async def decide(request: AnyRequest, rid: FromPath[uuid.UUID], db_session: Session, viewer: Who) -> Any:
    """The requester prefers one offer or declines them all, after the deadline."""
    raw = await request.form()
    choice = str(raw.get("angebot") or "")
    reason = str(raw.get("begruendung") or "").strip()
    values = {"angebot": choice, "begruendung": reason}
    message = ""
    data: DecisionIn | None = None
    if not choice:
        message = gettext("Bitte wählen Sie ein Angebot oder lehnen Sie alle ab.")
    elif len(reason) > MAX_REASON:
        message = gettext("Die Begründung ist zu lang: höchstens %(max)s Zeichen.", max=str(MAX_REASON))
    else:
        try:
            offer = None if choice == "keines" else uuid.UUID(choice)
        except ValueError:
            message = gettext("Bitte wählen Sie eines der angezeigten Angebote.")
        else:
            outcome = "declined_all" if offer is None else "preferred"
            data = DecisionIn(outcome=outcome, offer=offer, reason=reason or None)
    if data is None:
        return await _detail(db_session, viewer, rid, Feedback(message=message, decision=values, status=422))
    decision = data

    async def action() -> None:
        await services.decide_offer_request(db_session, viewer.principal, rid, decision)

    return await _act(db_session, viewer, rid, action, "decided", anchor="#entscheidung")


# --- the vendor's offer ------------------------------------------------------------------------------------


async def _offer_page(
    db_session: AsyncSession, viewer: Viewer, rid: uuid.UUID, form: OfferForm | None = None, status: int = 200
) -> Any:
    try:
        relation = await policies.load_offer_request(db_session, viewer.principal, rid)
    except NotFound:
        return _missing(viewer)
    if not relation.vendor:
        return forbidden(viewer, gettext("Angebote geben die Anbieter ab, an die sich die Anfrage richtet."))
    out = await services.offer_request_out(db_session, relation)
    own = (await services.list_offers(db_session, viewer.principal, rid)).items
    vendor_orgs = [m.organization for m in viewer.memberships if m.organization.id in relation.vendor_orgs]
    if form is None:
        chosen = vendor_orgs[0].slug if vendor_orgs else ""
        existing = next((o for o in own if o.vendor.slug == chosen), None)
        if existing is not None and existing.latest is not None:
            form = OfferForm.from_revision(existing.latest, chosen, out.bundle.version, existing.current_revision)
        else:
            form = OfferForm(values={"vendor": chosen, "bundle_version": str(out.bundle.version), "offer_version": ""})
        form.values["bundle_version"] = str(out.bundle.version)  # price the bundle as it is now
    current = next((o for o in own if o.vendor.slug == form.values.get("vendor")), None)
    return page(
        "offer_requests/offer_form.html",
        {
            "viewer": viewer,
            "r": out,
            "form": form,
            "existing": current,
            "vendor_orgs": vendor_orgs,
            "participants": out.bundle.participants or [],
            "price_kinds": PRICE_KINDS,
            "hosting_names": HOSTING_LOCATIONS,
            "labels": OFFER_LABELS,
            "open_for_changes": out.state == OfferRequestState.open.value and out.deadline > utcnow(),
        },
        status=status,
    )


@get("/anfragen/{rid:uuid}/angebot", name="web:offer-form")
async def offer_form(request: AnyRequest, rid: FromPath[uuid.UUID], db_session: Session, viewer: Who) -> Any:
    return await _offer_page(db_session, viewer, rid)


@post("/anfragen/{rid:uuid}/angebot", name="web:offer-save", status_code=200)
async def save_offer(request: AnyRequest, rid: FromPath[uuid.UUID], db_session: Session, viewer: Who) -> Any:
    """A first offer, or a revision of the vendor's offer (the form carries the revision it started from)."""
    try:
        relation = await policies.load_offer_request(db_session, viewer.principal, rid)
    except NotFound:
        return _missing(viewer)
    out = await services.offer_request_out(db_session, relation)
    participants = [p.organization.slug for p in out.bundle.participants or []]
    form = OfferForm.from_post(await request.form(), participants)
    data = form.create_input(participants)
    status = 422
    if data is not None:
        own = (await services.list_offers(db_session, viewer.principal, rid)).items if relation.vendor else []
        existing = next((o for o in own if o.vendor.slug == data.vendor), None)
        try:
            async with _all_or_nothing(db_session):
                if existing is None:
                    await services.submit_offer(db_session, viewer.principal, rid, data)
                else:
                    fields = OfferFields.model_validate(data.model_dump(exclude={"vendor"}))
                    etag = f'"{existing.uuid}.{form.values["offer_version"]}"'
                    await services.revise_offer(db_session, viewer.principal, rid, existing.uuid, fields, etag)
        except PreconditionFailed:
            status = 409
            assert existing is not None  # only a revision names the revision it started from
            _, now_stored = await services.get_offer(db_session, viewer.principal, rid, existing.uuid)
            form.fail(
                "_form",
                gettext(
                    "Ihr Angebot wurde inzwischen überarbeitet (Fassung %(n)s). Prüfen Sie die Angaben unten und "
                    "senden Sie erneut, um eine neue Fassung daraus zu machen.",
                    n=str(now_stored.current_revision),
                ),
            )
            form.values["offer_version"] = str(now_stored.current_revision)
        except Conflict as problem:
            status = 409
            if problem.field == "bundle_version":
                form.values["bundle_version"] = str(out.bundle.version)
                form.service_error("bundle_version", problem.detail)
            else:
                form.fail("_form", _refusal(problem))
        except Problem as problem:
            status = 403 if problem.status == 403 else 422
            form.service_error(problem.field, problem.detail)
        else:
            return redirect(f"/anfragen/{rid}#angebote", "offer-revised" if existing else "offer-submitted")
    return await _offer_page(db_session, viewer, rid, form, status=status)


@get("/anfragen/{rid:uuid}/angebote/{oid:uuid}", name="web:offer-history")
async def offer_history(
    request: AnyRequest, rid: FromPath[uuid.UUID], oid: FromPath[uuid.UUID], db_session: Session, viewer: Who
) -> Any:
    """Every revision of an offer: for its vendor always, for participants after the deadline."""
    try:
        _, out = await services.get_offer_request(db_session, viewer.principal, rid)
        _, offer = await services.get_offer(db_session, viewer.principal, rid, oid)
        revisions = (await services.list_revisions(db_session, viewer.principal, rid, oid)).items
    except NotFound:
        return _missing(viewer)
    except Problem:
        return forbidden(viewer, gettext("Die Angebote bleiben bis zum Ablauf der Frist versiegelt."))
    return page(
        "offer_requests/offer_history.html",
        {
            "viewer": viewer,
            "r": out,
            "offer": offer,
            "revisions": list(reversed(revisions)),
            "price_kinds": PRICE_KINDS,
            "hosting_names": HOSTING_LOCATIONS,
            "mine": {m.organization.slug for m in viewer.memberships},
        },
    )


# --- the conversation ---------------------------------------------------------------------------------------


async def _thread_page(
    db_session: AsyncSession, viewer: Viewer, rid: uuid.UUID, vendor: str, draft: str = "", error: str = ""
) -> Any:
    try:
        _, out = await services.get_offer_request(db_session, viewer.principal, rid)
        messages = await services.list_messages(db_session, viewer.principal, rid, vendor, limit=MAX_MESSAGES)
        threads = (await services.list_threads(db_session, viewer.principal, rid)).items
    except NotFound:
        return _missing(viewer)
    except Problem:
        return forbidden(viewer, gettext("Die Nachrichten sehen nur die Teilnehmer und der jeweilige Anbieter."))
    thread = next((t for t in threads if t.vendor.slug == vendor), None)
    return page(
        "offer_requests/offer_thread.html",
        {
            "viewer": viewer,
            "r": out,
            "vendor": thread.vendor if thread else None,
            "messages": messages.items,
            "more": messages.next_cursor is not None,
            "draft": draft,
            "error": error,
            "max_message": MAX_MESSAGE,
            "writable": out.state not in (OfferRequestState.draft.value, OfferRequestState.withdrawn.value),
        },
        status=422 if error else 200,
    )


@get("/anfragen/{rid:uuid}/nachrichten/{vendor:str}", name="web:offer-thread")
async def thread(
    request: AnyRequest, rid: FromPath[uuid.UUID], vendor: FromPath[str], db_session: Session, viewer: Who
) -> Any:
    return await _thread_page(db_session, viewer, rid, vendor)


@post(
    "/anfragen/{rid:uuid}/nachrichten/{vendor:str}",
    name="web:offer-message",
    status_code=303,
)
async def post_message(
    request: AnyRequest, rid: FromPath[uuid.UUID], vendor: FromPath[str], db_session: Session, viewer: Who
) -> Any:
    body = str((await request.form()).get("nachricht") or "")
    error = ""
    if not body.strip():
        error = gettext("Bitte schreiben Sie eine Nachricht.")
    elif len(body.encode()) > MAX_MESSAGE:
        error = gettext("Die Nachricht ist zu lang (höchstens 10 KB).")
    else:
        try:
            async with _all_or_nothing(db_session):
                await services.post_message(db_session, viewer.principal, rid, vendor, body)
        except NotFound:
            return _missing(viewer)
        except Problem as problem:
            error = _refusal(problem)
    if error:
        return await _thread_page(db_session, viewer, rid, vendor, draft=body, error=error)
    return redirect(f"/anfragen/{rid}/nachrichten/{vendor}#neueste", "message-sent")


ROUTES = [
    list_requests,
    new_request,
    create_request,
    show_request,
    edit_request,
    update_request,
    open_request,
    withdraw_request,
    join,
    leave,
    accept,
    decide,
    offer_form,
    save_offer,
    offer_history,
    thread,
    post_message,
]

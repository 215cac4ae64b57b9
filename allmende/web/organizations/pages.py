"""Organizations join the platform (issue 14): claim a public body from the register or name a new vendor
(``/beitreten``), an organization's members with roles and invitations (``/organisationen/{slug}/mitglieder``),
and accepting an invitation from its mail (``/einladung/{token}``, also without an account)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from litestar import get, post
from litestar.params import FromPath
from pydantic import ValidationError

from allmende.accounts import services as accounts
from allmende.accounts.models import MemberRole, OrganizationKind
from allmende.accounts.throttle import throttle_in
from allmende.core.problems import Conflict, Forbidden, NotFound, Problem
from allmende.web.kit.forms import FormState
from allmende.web.kit.i18n import N_, gettext
from allmende.web.kit.render import not_found, page, redirect
from allmende.web.kit.viewer import AnyRequest, Caller, Config, Session, Viewer, Who
from identity.schemas import ClaimIn
from identity.services import claims, invitations, members, passwords, sessions

JOIN = "/beitreten"
PUBLIC_KINDS = {k.value for k in (OrganizationKind.municipality, OrganizationKind.county, OrganizationKind.state)}
PUBLIC_KINDS |= {OrganizationKind.association.value}
ROLE_LABELS = {"owner": N_("Inhaber/in"), "editor": N_("Redakteur/in"), "member": N_("Mitglied")}
STATE_LABELS = {
    "pending": N_("Wartet auf Prüfung"),
    "verified": N_("Bestätigt"),
    "rejected": N_("Abgelehnt"),
    "withdrawn": N_("Zurückgezogen"),
}
VENDOR_FIELDS = ("name", "address", "register_number", "website")


@dataclass
class JoinForm(FormState):
    """Either form of the join page: the public body chosen, or the new vendor."""


def _role_label(role: str) -> str:
    return gettext(ROLE_LABELS.get(role, role))


async def _join_page(
    db_session: Any, viewer: Viewer, settings: Any, query: str, form: JoinForm | None = None, status: int = 200
) -> Any:
    user_id = viewer.principal.user_id or 0
    results = []
    if query:
        found = await accounts.list_organizations(db_session, q=query, limit=50, base_url=settings.base_url)
        results = [o for o in found.items if o.kind.value in PUBLIC_KINDS][:20]
    return page(
        "organizations/join.html",
        {
            "viewer": viewer,
            "q": query,
            "results": results,
            "form": form or JoinForm(),
            "mine": await members.organizations_of(db_session, user_id),
            "claims": await claims.list_claims(db_session, viewer.principal, mine=True),
            "role_label": _role_label,
            "state_labels": STATE_LABELS,
            "kind_labels": {
                "municipality": gettext("Kommune"),
                "county": gettext("Landkreis"),
                "association": gettext("Verbund"),
                "state": gettext("Land"),
                "vendor": gettext("Anbieter"),
            },
        },
        status=status,
    )


@get(JOIN, name="web:join")
async def join(request: AnyRequest, db_session: Session, viewer: Who, settings: Config) -> Any:
    return await _join_page(db_session, viewer, settings, request.query_params.get("q", "").strip()[:100])


def _claim_problem(form: JoinForm, problem: Problem, field: str) -> None:
    if problem.field == "email":
        form.fail("_form", gettext("Bitte bestätigen Sie zuerst Ihre E-Mail-Adresse."))
    elif isinstance(problem, Conflict) and "member" in problem.detail:
        form.fail(field, gettext("Sie gehören dieser Organisation bereits an."))
    elif isinstance(problem, Conflict):
        form.fail(
            field, gettext("Für diese Organisation wartet bereits ein Antrag auf die Prüfung durch die Moderation.")
        )
    elif isinstance(problem, NotFound):
        form.fail(field, gettext("Bitte wählen Sie eine Stelle aus dem Verzeichnis."))
    else:
        form.fail(field, gettext("Der Antrag konnte nicht gestellt werden."))


@post(f"{JOIN}/stelle", name="web:join-public-body", status_code=303)
async def claim_public_body(
    request: AnyRequest, db_session: Session, principal: Caller, viewer: Who, settings: Config
) -> Any:
    raw = await request.form()
    form = JoinForm(values={k: str(raw.get(k) or "").strip() for k in ("organization", "statement", "q")})
    if not form.text("organization"):
        form.fail("organization", gettext("Bitte wählen Sie eine Stelle aus dem Verzeichnis."))
    elif len(form.text("statement")) > 2000:
        form.fail("statement", gettext("Höchstens 2.000 Zeichen."))
    else:
        try:
            data = ClaimIn(organization=form.text("organization"), statement=form.text("statement") or None)
            await claims.file_claim(db_session, principal, data)
            return redirect(JOIN, "claim-filed")
        except ValidationError:
            form.fail("organization", gettext("Bitte wählen Sie eine Stelle aus dem Verzeichnis."))
        except Problem as problem:
            _claim_problem(form, problem, "organization")
    return await _join_page(db_session, viewer, settings, form.text("q")[:100], form, status=422)


_VENDOR_MESSAGES = {
    "name": N_("Bitte geben Sie den Namen des Anbieters an (höchstens 200 Zeichen)."),
    "address": N_("Bitte geben Sie die Anschrift an (mindestens fünf Zeichen)."),
    "register_number": N_("Bitte geben Sie die Registernummer vollständig an, z. B. „HRB 12345, Amtsgericht Kiel“."),
    "website": N_("Bitte geben Sie eine vollständige Adresse an, z. B. https://www.beispiel.de."),
}


@post(f"{JOIN}/anbieter", name="web:join-vendor", status_code=303)
async def claim_vendor(
    request: AnyRequest, db_session: Session, principal: Caller, viewer: Who, settings: Config
) -> Any:
    raw = await request.form()
    form = JoinForm(values={k: str(raw.get(k) or "").strip() for k in VENDOR_FIELDS})
    vendor = {k: form.text(k) for k in VENDOR_FIELDS if form.text(k)}
    try:
        data = ClaimIn(vendor=vendor)
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][1]) if len(error["loc"]) > 1 else "name"
            form.fail(name, gettext(_VENDOR_MESSAGES.get(name, _VENDOR_MESSAGES["name"])))
    else:
        try:
            await claims.file_claim(db_session, principal, data)
            return redirect(JOIN, "claim-filed")
        except Problem as problem:
            _claim_problem(form, problem, "name")
    return await _join_page(db_session, viewer, settings, "", form, status=422)


# --- members -----------------------------------------------------------------------------------------


@dataclass
class InviteForm(FormState):
    pass


async def _members_page(db_session: Any, viewer: Viewer, slug: str, invite: InviteForm | None = None) -> Any:
    try:
        data = await members.members_page(db_session, viewer.principal, slug)
    except NotFound:
        return not_found(
            viewer,
            gettext("Diese Organisation gehört nicht zu Ihren Organisationen."),
            links=[(JOIN, gettext("Ihre Organisationen"))],
        )
    return page(
        "organizations/members.html",
        {
            "viewer": viewer,
            "data": data,
            "invite": invite or InviteForm(values={"role": "member"}),
            "role_label": _role_label,
            "roles": [
                (r.value, _role_label(r.value)) for r in (MemberRole.member, MemberRole.editor, MemberRole.owner)
            ],
            "me": viewer.principal.user.email if viewer.principal.user else "",
        },
        status=422 if invite and invite.errors else 200,
    )


def _members_path(slug: str) -> str:
    return f"/organisationen/{slug}/mitglieder"


@get("/organisationen/{slug:str}/mitglieder", name="web:members")
async def members_list(slug: FromPath[str], db_session: Session, viewer: Who) -> Any:
    return await _members_page(db_session, viewer, slug)


@post("/organisationen/{slug:str}/mitglieder/einladen", name="web:invite", status_code=303)
async def invite(request: AnyRequest, slug: FromPath[str], db_session: Session, principal: Caller, viewer: Who) -> Any:
    raw = await request.form()
    form = InviteForm(values={k: str(raw.get(k) or "").strip() for k in ("email", "role")})
    org = await accounts.get_organization(db_session, slug)
    email = form.text("email")
    if "@" not in email or len(email) > 254 or " " in email:
        form.fail("email", gettext("Bitte geben Sie eine gültige E-Mail-Adresse an."))
    if form.text("role") not in ROLE_LABELS:
        form.fail("role", gettext("Bitte wählen Sie eine Rolle."))
    if not form.errors:
        try:
            await invitations.invite(db_session, principal, org, email=email, role=MemberRole(form.text("role")))
            return redirect(_members_path(slug), "invitation-sent")
        except Forbidden:
            return redirect(_members_path(slug), "not-allowed")
        except Conflict:
            form.fail("email", gettext("Diese Adresse gehört bereits einem Mitglied der Organisation."))
        except Problem:
            form.fail("email", gettext("Bitte geben Sie eine gültige E-Mail-Adresse an."))
    return await _members_page(db_session, viewer, slug, form)


@post("/organisationen/{slug:str}/mitglieder/rolle", name="web:member-role", status_code=303)
async def change_role(request: AnyRequest, slug: FromPath[str], db_session: Session, principal: Caller) -> Any:
    raw = await request.form()
    role = str(raw.get("role") or "")
    if role not in ROLE_LABELS:
        return redirect(_members_path(slug), "not-allowed")
    org = await accounts.get_organization(db_session, slug)
    try:
        await accounts.add_member(db_session, principal, org, email=str(raw.get("email") or ""), role=MemberRole(role))
    except Conflict:
        return redirect(_members_path(slug), "last-owner")
    except Problem:
        return redirect(_members_path(slug), "not-allowed")
    return redirect(_members_path(slug), "role-changed")


@post("/organisationen/{slug:str}/mitglieder/entfernen", name="web:member-remove", status_code=303)
async def remove(request: AnyRequest, slug: FromPath[str], db_session: Session, principal: Caller) -> Any:
    raw = await request.form()
    email = str(raw.get("email") or "")
    org = await accounts.get_organization(db_session, slug)
    try:
        await accounts.remove_member(db_session, principal, org, email=email)
    except Conflict:
        return redirect(_members_path(slug), "last-owner")
    except Problem:
        return redirect(_members_path(slug), "not-allowed")
    if principal.user is not None and principal.user.email == accounts.normalize_email(email):
        return redirect(JOIN, "left")
    return redirect(_members_path(slug), "member-removed")


@post(
    "/organisationen/{slug:str}/einladungen/{invitation:uuid}/zurueckziehen",
    name="web:invitation-revoke",
    status_code=303,
)
async def revoke(slug: FromPath[str], invitation: FromPath[uuid.UUID], db_session: Session, principal: Caller) -> Any:
    org = await accounts.get_organization(db_session, slug)
    try:
        await invitations.revoke(db_session, principal, org, invitation)
    except Problem:
        return redirect(_members_path(slug), "not-allowed")
    return redirect(_members_path(slug), "invitation-revoked")


# --- accepting an invitation ---------------------------------------------------------------------------

GONE = {
    "used": N_("Diese Einladung wurde bereits angenommen. Ein Einladungslink gilt nur einmal."),
    "revoked": N_("Diese Einladung wurde zurückgezogen. Bitten Sie die Organisation um eine neue."),
    "expired": N_("Diese Einladung ist abgelaufen (sie galt sieben Tage). Bitten Sie die Organisation um eine neue."),
}


def _gone(viewer: Viewer, problem: Problem) -> Any:
    reason = str(problem.extra.get("reason", "")) if problem.extra else ""
    message = GONE.get(
        reason, N_("Dieser Einladungslink ist nicht gültig. Prüfen Sie, ob er vollständig kopiert wurde.")
    )
    status = 410 if reason in GONE else 404
    return page(
        "kit/error.html",
        {"viewer": viewer, "status": status, "title": gettext("Einladung nicht gültig"), "message": gettext(message)},
        status=status,
    )


@dataclass
class AcceptForm(FormState):
    pass


async def _invitation_page(db_session: Any, viewer: Viewer, token: str, form: AcceptForm | None = None) -> Any:
    try:
        pending = await invitations.by_token(db_session, token)
    except Problem as problem:
        return _gone(viewer, problem)
    user = viewer.principal.user
    return page(
        "organizations/invitation.html",
        {
            "viewer": viewer,
            "pending": pending,
            "token": token,
            "role": _role_label(pending.invitation.role),
            "matches": user is not None and user.email == pending.invitation.email,
            "form": form or AcceptForm(),
            "min_length": passwords.MIN_LENGTH,
        },
        status=422 if form and form.errors else 200,
    )


@get("/einladung/{token:str}", name="web:invitation")
async def invitation(token: FromPath[str], db_session: Session, viewer: Who) -> Any:
    return await _invitation_page(db_session, viewer, token[:100])


_PASSWORD_MESSAGES = {
    "too-short": N_("Das Passwort braucht mindestens %(n)s Zeichen."),
    "too-long": N_("Das Passwort ist zu lang."),
    "guessable": N_("Dieses Passwort ist zu leicht zu erraten oder kommt in bekannten Datenlecks vor."),
    "personal": N_("Das Passwort darf nicht aus Ihrem Namen oder Ihrer E-Mail-Adresse bestehen."),
}


@post("/einladung/{token:str}", name="web:invitation-accept", status_code=303)
async def accept(request: AnyRequest, token: FromPath[str], db_session: Session, principal: Caller, viewer: Who) -> Any:
    raw = await request.form()
    form = AcceptForm(values={"name": str(raw.get("name") or "").strip()[:200]})
    password = str(raw.get("password") or "")[:1024]
    throttle = throttle_in(request.app.stores, "invitation")
    client = request.client.host if request.client else "unknown"
    try:
        await throttle.check(email=token, client=client)
    except Problem:
        return page(
            "kit/error.html",
            {
                "viewer": viewer,
                "status": 429,
                "title": gettext("Zu viele Versuche"),
                "message": gettext("Bitte warten Sie 15 Minuten und versuchen Sie es dann erneut."),
            },
            status=429,
        )
    if principal.user is None:
        if not form.text("name"):
            form.fail("name", gettext("Bitte geben Sie Ihren Namen an."))
        if not password:
            form.fail("password", gettext("Bitte wählen Sie ein Passwort."))
        if form.errors:
            return await _invitation_page(db_session, viewer, token, form)
    try:
        accepted = await invitations.accept(
            db_session, principal, token, name=form.text("name") or None, password=password or None
        )
    except Problem as problem:
        if problem.status in (404, 410):
            await throttle.failed(email=token, client=client)
            return _gone(viewer, problem)
        if problem.field == "password":
            reason = str(problem.extra.get("reason", "guessable"))
            form.fail(
                "password",
                gettext(_PASSWORD_MESSAGES.get(reason, _PASSWORD_MESSAGES["guessable"]), n=str(passwords.MIN_LENGTH)),
            )
            return await _invitation_page(db_session, viewer, token, form)
        return redirect(f"/einladung/{token}", "not-allowed")
    if accepted.account_created:
        login = await sessions.start(
            db_session, accepted.user, method="invitation", device=request.headers.get("user-agent", "")
        )
        request.set_session(sessions.session_cookie(accepted.user, login))
    return redirect(_members_path(accepted.organization.slug), "invitation-accepted")


SIGNED_IN = [join, claim_public_body, claim_vendor, members_list, invite, change_role, remove, revoke]
ROUTES = [invitation, accept]

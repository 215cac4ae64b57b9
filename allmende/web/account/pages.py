"""Getting an account and keeping it: registration (``/registrieren``), the confirmation link
(``/email-bestaetigen``), a forgotten password (``/passwort-vergessen``, ``/passwort-neu``), and the
account page (``/konto``: name, language, notices by mail, a new address, a new password, the signed-in
sessions, "Daten herunterladen" and "Konto löschen").

A mailed link opens a page with a button: the link is used by the POST, so a mail program that opens
links in advance does not use it up. Registration and a forgotten password answer the same page for
every address (no enumeration); the throttle answers in German.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from allmende.accounts.models import User
from allmende.accounts.throttle import Throttle
from allmende.core.problems import Forbidden, Problem
from allmende.web.account import forms
from allmende.web.account.forms import AccountForm
from allmende.web.kit import i18n
from allmende.web.kit.i18n import gettext
from allmende.web.kit.render import Page, forbidden, page, redirect
from allmende.web.kit.viewer import AnyRequest, Session, Viewer, Who
from identity.policies import account_holder
from identity.services import account, registration, sessions, signin
from identity.services.links import LinkGone

Throttles = NamedDependency[Throttle]
KONTO = "/konto"


def _client(request: AnyRequest) -> str:
    return request.client.host if request.client else "unknown"


def _throttled() -> str:
    return gettext("Zu viele Versuche in kurzer Zeit. Bitte warten Sie eine Weile und versuchen Sie es dann erneut.")


async def _spend(throttle: Throttle, action: str, account_key: str, request: AnyRequest, form: AccountForm) -> bool:
    """One attempt; False (and a German message on the form) when the throttle says no."""
    try:
        await throttle.spend(action, account=account_key, client=_client(request))
    except Problem:
        form.fail("_form", _throttled())
        return False
    return True


def _status(form: AccountForm) -> int:
    return 429 if form.errors.get("_form") == _throttled() else 422


def _link_page(viewer: Viewer, problem: Problem, *, purpose: str) -> Page:
    """A link that cannot be used: why, and what to do instead."""
    reason = problem.extra.get("reason")
    if reason == "used":
        message = gettext("Dieser Link wurde bereits verwendet. Jeder Link funktioniert nur einmal.")
    elif reason == "expired":
        message = gettext("Dieser Link ist abgelaufen.")
    else:
        message = gettext("Dieser Link ist ungültig. Bitte kopieren Sie ihn vollständig aus der E-Mail.")
    return page(
        "account/link_gone.html",
        {"viewer": viewer, "message": message, "purpose": purpose},
        status=problem.status,
    )


# --- registration and the confirmation link --------------------------------------------------------------------


@get("/registrieren", name="web:register")
async def register_form(viewer: Who) -> Any:
    return page("account/register.html", {"viewer": viewer, "form": AccountForm(), "fields": forms.REGISTER})


@post("/registrieren", name="web:register-post", status_code=200)
async def register(request: AnyRequest, db_session: Session, throttle: Throttles, viewer: Who) -> Any:
    form = AccountForm.posted(await request.form(), forms.REGISTER)
    if not form.errors and await _spend(throttle, "register", form.text("email").lower(), request, form):
        try:
            await registration.register(
                db_session,
                email=form.text("email"),
                display_name=form.text("display_name"),
                password=form.values["password"],
                language=i18n.current(),
            )
        except Problem as problem:
            form.refused(problem)
    if form.errors:
        form.forget_passwords()
        return page(
            "account/register.html",
            {"viewer": viewer, "form": form, "fields": forms.REGISTER},
            status=_status(form),
        )
    return page("account/check_mailbox.html", {"viewer": viewer, "purpose": "register", "email": form.text("email")})


@get("/email-bestaetigen", name="web:confirm-email")
async def confirm_form(request: AnyRequest, viewer: Who) -> Any:
    token = (request.query_params.get("token") or "")[:200]
    return page("account/confirm.html", {"viewer": viewer, "token": token, "error": None})


@post("/email-bestaetigen", name="web:confirm-email-post", status_code=303)
async def confirm(request: AnyRequest, db_session: Session, throttle: Throttles, viewer: Who) -> Any:
    token = str((await request.form()).get("token") or "")[:200]
    form = AccountForm()
    if not await _spend(throttle, "confirm-link", token, request, form):
        return page("account/confirm.html", {"viewer": viewer, "token": token, "error": _throttled()}, status=429)
    try:
        confirmed = await registration.confirm_email(db_session, token)
    except LinkGone as problem:
        return _link_page(viewer, problem, purpose="confirm")
    except Problem as problem:
        if problem.field == "email":
            message = gettext(
                "Diese E-Mail-Adresse gehört inzwischen zu einem anderen Konto. Ihre bisherige Adresse gilt weiter."
            )
            return page("account/confirm.html", {"viewer": viewer, "token": "", "error": message}, status=422)
        return _link_page(viewer, problem, purpose="confirm")
    if confirmed.changed_address:
        return redirect(KONTO if viewer.signed_in else "/anmelden", "email-changed")
    return redirect("/anmelden", "email-confirmed")


# --- a forgotten password -------------------------------------------------------------------------------------


@get("/passwort-vergessen", name="web:forgot")
async def forgot_form(viewer: Who) -> Any:
    return page("account/forgot.html", {"viewer": viewer, "form": AccountForm(), "fields": forms.FORGOT})


@post("/passwort-vergessen", name="web:forgot-post", status_code=200)
async def forgot(request: AnyRequest, db_session: Session, throttle: Throttles, viewer: Who) -> Any:
    form = AccountForm.posted(await request.form(), forms.FORGOT)
    if not form.errors and await _spend(throttle, "password-reset", form.text("email").lower(), request, form):
        await registration.request_reset(db_session, form.text("email"))
    if form.errors:
        return page(
            "account/forgot.html", {"viewer": viewer, "form": form, "fields": forms.FORGOT}, status=_status(form)
        )
    return page("account/check_mailbox.html", {"viewer": viewer, "purpose": "reset", "email": form.text("email")})


@get("/passwort-neu", name="web:reset")
async def reset_form(request: AnyRequest, viewer: Who) -> Any:
    token = (request.query_params.get("token") or "")[:200]
    return page("account/reset.html", {"viewer": viewer, "form": AccountForm(), "fields": forms.RESET, "token": token})


@post("/passwort-neu", name="web:reset-post", status_code=303)
async def reset(request: AnyRequest, db_session: Session, throttle: Throttles, viewer: Who) -> Any:
    raw = await request.form()
    token = str(raw.get("token") or "")[:200]
    form = AccountForm.posted(raw, forms.RESET)
    if not form.errors and await _spend(throttle, "confirm-link", token, request, form):
        try:
            await registration.reset_password(db_session, token, form.values["password"])
        except LinkGone as problem:
            return _link_page(viewer, problem, purpose="reset")
        except Problem as problem:
            if problem.field == "token":
                return _link_page(viewer, problem, purpose="reset")
            form.refused(problem)
    if form.errors:
        form.forget_passwords()
        context = {"viewer": viewer, "form": form, "fields": forms.RESET, "token": token}
        return page("account/reset.html", context, status=_status(form))
    request.clear_session()  # every session of the person ended, this browser's too
    return redirect("/anmelden", "password-reset")


# --- the account page ----------------------------------------------------------------------------------------


def _holder(viewer: Viewer) -> User | None:
    """The signed-in person, or a 403 page for a session that still waits for its second factor."""
    try:
        return account_holder(viewer.principal)
    except Forbidden:
        return None


def _refused(viewer: Viewer) -> Page:
    return forbidden(viewer, gettext("Bitte bestätigen Sie zuerst die Anmeldung mit Ihrem zweiten Faktor."))


async def _account_page(
    request: AnyRequest, db_session: Session, viewer: Viewer, *, status: int = 200, **forms_in_error: AccountForm
) -> Page:
    user = _holder(viewer)
    assert user is not None  # the handlers refused the others
    current = signin.login_of(request.session)
    profile = AccountForm(
        values={"display_name": user.display_name, "language": user.language, "mail_notices": user.mail_notices}
    )
    context: dict[str, Any] = {
        "viewer": viewer,
        "user": user,
        "fields": {
            "profile": forms.PROFILE,
            "email": forms.EMAIL_CHANGE,
            "password": forms.PASSWORD_CHANGE,
            "delete": forms.DELETE,
        },
        "languages": forms.LANGUAGES,
        "profile": profile,
        "email": AccountForm(),
        "password": AccountForm(),
        "delete": AccountForm(),
        "sessions": [account.session_out(s, current) for s in await sessions.list_for(db_session, user.id or 0)],
        "sole_owner": await account.sole_owner_of(db_session, user.id or 0),
    }
    context.update(forms_in_error)
    return page("account/account.html", context, status=status)


@get(KONTO, name="web:account")
async def account_page(request: AnyRequest, db_session: Session, viewer: Who) -> Any:
    if _holder(viewer) is None:
        return _refused(viewer)
    return await _account_page(request, db_session, viewer)


@post(f"{KONTO}/angaben", name="web:account-profile", status_code=303)
async def save_profile(request: AnyRequest, db_session: Session, viewer: Who) -> Any:
    user = _holder(viewer)
    if user is None:
        return _refused(viewer)
    raw = await request.form()
    form = AccountForm.posted(raw, forms.PROFILE)
    form.values["mail_notices"] = raw.get("mail_notices") == "ja"
    if not form.errors:
        try:
            await account.update(
                db_session,
                user,
                display_name=form.text("display_name"),
                language=form.text("language") or user.language,
                mail_notices=bool(form.values["mail_notices"]),
            )
        except Problem as problem:
            form.refused(problem)
    if form.errors:
        return await _account_page(request, db_session, viewer, status=422, profile=form)
    return redirect(KONTO, "account-saved")


@post(f"{KONTO}/email", name="web:account-email", status_code=303)
async def change_email(request: AnyRequest, db_session: Session, throttle: Throttles, viewer: Who) -> Any:
    user = _holder(viewer)
    if user is None:
        return _refused(viewer)
    form = AccountForm.posted(await request.form(), forms.EMAIL_CHANGE)
    if not form.errors and await _spend(throttle, "current-password", user.email, request, form):
        try:
            await account.request_email_change(
                db_session, user, email=form.text("email"), current_password=form.values["email_password"]
            )
        except Problem as problem:
            form.refused(problem, field="email_password" if problem.field == "current_password" else None)
    if form.errors:
        form.forget_passwords()
        return await _account_page(request, db_session, viewer, status=_status(form), email=form)
    await throttle.forget("current-password", account=user.email)
    return redirect(KONTO, "email-change-sent")


@post(f"{KONTO}/passwort", name="web:account-password", status_code=303)
async def change_password(request: AnyRequest, db_session: Session, throttle: Throttles, viewer: Who) -> Any:
    user = _holder(viewer)
    if user is None:
        return _refused(viewer)
    form = AccountForm.posted(await request.form(), forms.PASSWORD_CHANGE)
    if not form.errors and await _spend(throttle, "current-password", user.email, request, form):
        try:
            await account.change_password(
                db_session,
                user,
                current_password=form.values["current_password"],
                new_password=form.values["new_password"],
                keep=signin.login_of(request.session),
            )
        except Problem as problem:
            form.refused(problem)
    if form.errors:
        form.forget_passwords()
        return await _account_page(request, db_session, viewer, status=_status(form), password=form)
    await throttle.forget("current-password", account=user.email)
    return redirect(KONTO, "password-changed")


@post(f"{KONTO}/sitzungen/{{sid:uuid}}/beenden", name="web:account-end-session", status_code=303)
async def end_session(request: AnyRequest, sid: FromPath[uuid.UUID], db_session: Session, viewer: Who) -> Any:
    user = _holder(viewer)
    if user is None:
        return _refused(viewer)
    if not await sessions.end(db_session, user.id or 0, sid):
        return redirect(KONTO, "session-gone")
    if sid == signin.login_of(request.session):
        request.clear_session()
        return redirect("/", "signed-out")
    return redirect(KONTO, "session-ended")


@post(f"{KONTO}/sitzungen/andere-beenden", name="web:account-end-others", status_code=303)
async def end_other_sessions(request: AnyRequest, db_session: Session, viewer: Who) -> Any:
    user = _holder(viewer)
    if user is None:
        return _refused(viewer)
    await sessions.end_all(db_session, user.id or 0, keep=signin.login_of(request.session))
    return redirect(KONTO, "sessions-ended")


@get(f"{KONTO}/daten", name="web:account-export")
async def export(db_session: Session, viewer: Who) -> Any:
    user = _holder(viewer)
    if user is None:
        return _refused(viewer)
    data = await account.export(db_session, user)
    return Response(
        json.dumps(data.model_dump(mode="json"), ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="allmende-daten.json"', "Cache-Control": "no-store"},
    )


@post(f"{KONTO}/loeschen", name="web:account-delete", status_code=303)
async def delete(request: AnyRequest, db_session: Session, throttle: Throttles, viewer: Who) -> Any:
    user = _holder(viewer)
    if user is None:
        return _refused(viewer)
    form = AccountForm.posted(await request.form(), forms.DELETE)
    status = 422
    if not form.errors and await _spend(throttle, "current-password", user.email, request, form):
        try:
            await account.delete_account(db_session, user, current_password=form.values["delete_password"])
        except Problem as problem:
            if problem.field == "organizations":
                status = 409
                form.fail(
                    "_form",
                    gettext(
                        "Sie sind die letzte Person mit der Rolle Inhaber in einer Organisation. Machen Sie zuerst "
                        "jemand anderen zur Inhaberin oder zum Inhaber."
                    ),
                )
            else:
                form.refused(problem, field="delete_password" if problem.field == "current_password" else None)
    if form.errors:
        form.forget_passwords()
        status = _status(form) if status == 422 else status
        return await _account_page(request, db_session, viewer, status=status, delete=form)
    request.clear_session()
    return redirect("/", "account-deleted")


ROUTES = [register_form, register, confirm_form, confirm, forgot_form, forgot, reset_form, reset]
SIGNED_IN = [account_page, save_profile, change_email, change_password, end_session, end_other_sessions, export, delete]

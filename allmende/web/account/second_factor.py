"""Two-factor login in the web: the second step of signing in (``/anmelden/zweiter-faktor``) and the
account's two-factor page (``/konto/zwei-faktor``): turn TOTP on (the secret as text and as an otpauth://
link, no QR image), confirm with a first code, the ten recovery codes shown once, new recovery codes,
turn it off (not for moderators and admins).

The rules are in ``identity.services.second_factor``; a refused code re-renders the form with a German
message (422) and keeps the audit event of the attempt (the page answers, it does not raise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import get, post
from litestar.di import NamedDependency

from allmende.accounts import services as accounts
from allmende.accounts.models import User
from allmende.accounts.throttle import LoginThrottle
from allmende.core.problems import Conflict, Forbidden, Problem
from allmende.web.kit.forms import FormState
from allmende.web.kit.i18n import gettext
from allmende.web.kit.render import forbidden, page, redirect, safe_next
from allmende.web.kit.viewer import AnyRequest, Caller, Session, Viewer, Who
from allmende.web.signin import home_for, second_factor_step
from identity.services import second_factor, sessions

STEP = "/anmelden/zweiter-faktor"
ACCOUNT = "/konto/zwei-faktor"
Throttle = NamedDependency[LoginThrottle]


@dataclass
class CodeForm(FormState):
    """One code field; ``name`` tells the forms of one page apart (the field's id is ``feld-<name>``)."""

    name: str = "code"

    @classmethod
    async def read(cls, request: AnyRequest, name: str = "code") -> CodeForm:
        form = await request.form()
        state = cls(values={name: str(form.get(name) or "")[: second_factor.CODE_MAX]}, name=name)
        if not state.text(name).strip():
            state.fail(name, gettext("Bitte geben Sie den Code aus Ihrer App oder einen Wiederherstellungscode ein."))
        return state

    @property
    def code(self) -> str:
        return self.text(self.name)

    def refused(self, problem: Problem) -> int:
        """The German words for a refused code (or a pause after too many); returns the page's status."""
        if problem.status == 429:
            self.fail(
                self.name,
                gettext("Zu viele falsche Codes. Bitte warten Sie 15 Minuten und versuchen Sie es dann erneut."),
            )
            return 429
        if isinstance(problem, second_factor.CodeRefused) and problem.refusal is second_factor.Refusal.reused:
            reused = gettext("Dieser Code wurde schon verwendet. Bitte warten Sie auf den nächsten Code Ihrer App.")
            self.fail(self.name, reused)
        else:
            self.fail(self.name, gettext("Der Code ist falsch oder abgelaufen."))
        return 422


def _client(request: AnyRequest) -> str:
    return request.client.host if request.client else "unknown"


def _retry(status: int) -> dict[str, str] | None:
    return {"Retry-After": "900"} if status == 429 else None


async def _waiting(request: AnyRequest, db_session: Session) -> Any:  # the waiting LoginSession, or None
    cookie = request.scope.get("session")
    login_uuid = cookie.get("login") if isinstance(cookie, dict) else None
    return await sessions.current(db_session, str(login_uuid) if login_uuid else None)


async def _landing(db_session: Session, user: User, target: str) -> str:
    if target:
        return target
    principal = await accounts.principal_of(db_session, user)
    if principal is None:
        return "/"
    return home_for(Viewer(principal=principal, memberships=await accounts.memberships_of(db_session, user.id or 0)))


# --- the second step of signing in ------------------------------------------------------------------


def _step_page(viewer: Viewer, user: User, form: CodeForm, target: str, *, status: int = 200) -> Any:
    return page(
        "account/second_factor_step.html",
        {
            "viewer": viewer,
            "form": form,
            "next": target,
            "enrollment": second_factor.pending(user),
        },
        status=status,
        headers=_retry(status),
    )


@get(STEP, name="web:second-factor")
async def step(request: AnyRequest, db_session: Session, viewer: Who) -> Any:
    target = safe_next(request.query_params.get("next"), "")
    login = await _waiting(request, db_session)
    user = viewer.principal.user
    if login is None or user is None:
        return redirect("/anmelden" + (f"?next={target}" if target else ""))
    if login.second_factor_at is not None:
        return redirect(await _landing(db_session, user, target))
    if user.totp_enabled_at is None:  # a moderator without an authenticator sets it up here
        await second_factor.begin(db_session, user, keep_pending=True)
    return _step_page(viewer, user, CodeForm(), target)


@post(STEP, name="web:second-factor-post", status_code=200)
async def give(request: AnyRequest, db_session: Session, viewer: Who, code_throttle: Throttle) -> Any:
    form = await CodeForm.read(request)
    target = safe_next(str((await request.form()).get("next") or ""), "")
    login = await _waiting(request, db_session)
    user = viewer.principal.user
    if login is None or user is None:
        return redirect("/anmelden")
    if login.second_factor_at is not None:
        return redirect(await _landing(db_session, user, target))
    if form.errors:
        return _step_page(viewer, user, form, target, status=422)
    client = _client(request)
    try:
        if user.totp_enabled_at is None:
            codes = await second_factor.confirm(
                db_session, user, form.code, login=login, guard=code_throttle, client=client
            )
            landing = await _landing(db_session, user, target)
            return _codes_page(await _full_viewer(db_session, user), codes, landing, first=True)
        await second_factor.give(db_session, user, login, form.code, guard=code_throttle, client=client)
    except Conflict:  # the set-up lost its pending secret meanwhile (another tab): start again
        return redirect(second_factor_step(target))
    except Problem as problem:
        status = form.refused(problem)
        return _step_page(viewer, user, form, target, status=status)
    return redirect(await _landing(db_session, user, target), "signed-in")


async def _full_viewer(db_session: Session, user: User) -> Viewer:
    principal = await accounts.principal_of(db_session, user)
    assert principal is not None
    return Viewer(principal=principal, memberships=await accounts.memberships_of(db_session, user.id or 0))


def _codes_page(viewer: Viewer, codes: list[str], onward: str, *, first: bool) -> Any:
    return page(
        "account/recovery_codes.html",
        {"viewer": viewer, "codes": codes, "onward": onward, "first": first},
    )


# --- the account's two-factor page ------------------------------------------------------------------


def _waits_for_factor(viewer: Viewer) -> Any:
    """A session that still waits for its code gives it first, then comes back here."""
    return None if viewer.principal.second_factor else redirect(second_factor_step(ACCOUNT))


async def _account_page(
    db_session: Session,
    viewer: Viewer,
    *,
    renew: CodeForm | None = None,
    turn_off: CodeForm | None = None,
    status: int = 200,
) -> Any:
    user = viewer.principal.user
    assert user is not None
    return page(
        "account/second_factor.html",
        {
            "viewer": viewer,
            "state": await second_factor.status(db_session, user),
            "renew": renew or CodeForm(name="code_neu"),
            "turn_off": turn_off or CodeForm(name="code_aus"),
        },
        status=status,
        headers=_retry(status),
    )


@get(ACCOUNT, name="web:second-factor-account")
async def account(db_session: Session, viewer: Who) -> Any:
    return _waits_for_factor(viewer) or await _account_page(db_session, viewer)


def _setup_page(viewer: Viewer, user: User, form: CodeForm, *, status: int = 200) -> Any:
    return page(
        "account/second_factor_setup.html",
        {"viewer": viewer, "form": form, "enrollment": second_factor.pending(user)},
        status=status,
        headers=_retry(status),
    )


@post(f"{ACCOUNT}/einrichten", name="web:second-factor-begin", status_code=200)
async def begin(db_session: Session, principal: Caller, viewer: Who) -> Any:
    waiting = _waits_for_factor(viewer)
    if waiting:
        return waiting
    user = principal.require_user()
    if user.totp_enabled_at is not None:
        return redirect(ACCOUNT)
    await second_factor.begin(db_session, user)
    return _setup_page(viewer, user, CodeForm())


@post(f"{ACCOUNT}/bestaetigen", name="web:second-factor-confirm", status_code=200)
async def confirm(
    request: AnyRequest, db_session: Session, principal: Caller, viewer: Who, code_throttle: Throttle
) -> Any:
    waiting = _waits_for_factor(viewer)
    if waiting:
        return waiting
    user = principal.require_user()
    if user.totp_enabled_at is not None or not user.totp_secret:
        return redirect(ACCOUNT)
    form = await CodeForm.read(request)
    if form.errors:
        return _setup_page(viewer, user, form, status=422)
    try:
        codes = await second_factor.confirm(db_session, user, form.code, guard=code_throttle, client=_client(request))
    except Problem as problem:
        return _setup_page(viewer, user, form, status=form.refused(problem))
    return _codes_page(viewer, codes, ACCOUNT, first=True)


@post(f"{ACCOUNT}/wiederherstellungscodes", name="web:recovery-codes", status_code=200)
async def renew(
    request: AnyRequest, db_session: Session, principal: Caller, viewer: Who, code_throttle: Throttle
) -> Any:
    waiting = _waits_for_factor(viewer)
    if waiting:
        return waiting
    user = principal.require_user()
    if user.totp_enabled_at is None:
        return redirect(ACCOUNT)
    form = await CodeForm.read(request, "code_neu")
    if form.errors:
        return await _account_page(db_session, viewer, renew=form, status=422)
    try:
        codes = await second_factor.regenerate(
            db_session, user, form.code, guard=code_throttle, client=_client(request)
        )
    except Problem as problem:
        status = form.refused(problem)
        return await _account_page(db_session, viewer, renew=form, status=status)
    return _codes_page(viewer, codes, ACCOUNT, first=False)


@post(f"{ACCOUNT}/ausschalten", name="web:second-factor-off", status_code=303)
async def turn_off(
    request: AnyRequest, db_session: Session, principal: Caller, viewer: Who, code_throttle: Throttle
) -> Any:
    waiting = _waits_for_factor(viewer)
    if waiting:
        return waiting
    user = principal.require_user()
    if user.totp_enabled_at is None:
        return redirect(ACCOUNT)
    if second_factor.required(user):
        return forbidden(
            viewer, gettext("Für Moderation und Administration ist die Zwei-Faktor-Anmeldung vorgeschrieben.")
        )
    form = await CodeForm.read(request, "code_aus")
    if form.errors:
        return await _account_page(db_session, viewer, turn_off=form, status=422)
    try:
        await second_factor.disable(db_session, user, form.code, guard=code_throttle, client=_client(request))
    except Forbidden:  # the role came meanwhile
        return redirect(ACCOUNT)
    except Problem as problem:
        status = form.refused(problem)
        return await _account_page(db_session, viewer, turn_off=form, status=status)
    return redirect(ACCOUNT, "second-factor-off")


ROUTES = [step, give]  # the second step of signing in: a session that waits is signed in only halfway
SIGNED_IN = [account, begin, confirm, renew, turn_off]

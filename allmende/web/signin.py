"""Sign-in and sign-out with a form (CSRF-protected like every form), sharing the API's rules and throttle."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import get, post
from litestar.di import NamedDependency

from allmende.accounts import services as accounts
from allmende.accounts.throttle import LoginThrottle
from allmende.core.problems import Problem
from allmende.web.kit.i18n import gettext
from allmende.web.kit.render import page, redirect, safe_next
from allmende.web.kit.viewer import AnyRequest, Config, Session, Viewer, Who
from identity.services import oidc, sessions, signin


def home_for(viewer: Viewer) -> str:
    """Where a person lands after signing in, if no page asked for it."""
    if viewer.is_moderator:
        return "/moderation"
    if viewer.editor_orgs:
        return "/anbieter"
    if viewer.public_orgs:
        return "/kommune"
    return "/"


SECOND_FACTOR = "/anmelden/zweiter-faktor"  # the second factor's page (issue 14, item 6)


def second_factor_step(target: str) -> str:
    """The second step of signing in, then ``target`` (or the person's own start page)."""
    return SECOND_FACTOR + (f"?next={quote(target, safe='/')}" if target else "")


@get("/anmelden", name="web:login")
async def login_form(request: AnyRequest, viewer: Who, settings: Config) -> Any:
    return page(
        "signin/login.html",
        {
            "viewer": viewer,
            "email": "",
            "error": None,
            "next": safe_next(request.query_params.get("next"), ""),
            "sso": oidc.providers(settings),  # issue 14: "Anmelden mit …"
        },
    )


@post("/anmelden", name="web:login-post", status_code=200)
async def login(
    request: AnyRequest,
    db_session: Session,
    login_throttle: NamedDependency[LoginThrottle],
    viewer: Who,
    settings: Config,
) -> Any:
    form = await request.form()
    email = str(form.get("email") or "").strip()[:254]
    password = str(form.get("password") or "")[:1000]
    target = safe_next(str(form.get("next") or ""), "")
    client = request.client.host if request.client else "unknown"
    normalized = accounts.normalize_email(email)

    def again(message: str, status: int) -> Any:
        return page(
            "signin/login.html",
            {"viewer": viewer, "email": email, "error": message, "next": target, "sso": oidc.providers(settings)},
            status=status,
            headers={"Retry-After": "900"} if status == 429 else None,
        )

    if not email or not password:
        return again(gettext("Bitte geben Sie E-Mail-Adresse und Passwort ein."), 422)
    try:
        await login_throttle.check(email=normalized, client=client)
    except Problem:
        return again(
            gettext(
                "Zu viele fehlgeschlagene Anmeldeversuche. "
                "Bitte warten Sie 15 Minuten und versuchen Sie es dann erneut."
            ),
            429,
        )
    user = await accounts.authenticate(db_session, normalized, password)
    if user is None:
        await login_throttle.failed(email=normalized, client=client)
        signin.failed(db_session, await accounts.get_user_by_email(db_session, normalized), "password")
        # The same words whether the account exists or not.
        return again(gettext("E-Mail-Adresse oder Passwort ist falsch."), 401)
    await login_throttle.succeeded(email=normalized)
    if user.email_confirmed_at is None:
        signin.failed(db_session, user, "unconfirmed")
        return again(
            gettext(
                "Bitte bestätigen Sie zuerst Ihre E-Mail-Adresse: Den Link dazu haben wir Ihnen nach der "
                "Registrierung geschickt. Wenn er abgelaufen ist, registrieren Sie sich einfach noch einmal "
                "mit derselben Adresse."
            ),
            403,
        )
    login = await sessions.start(
        db_session, user, method="password", device=signin.device(request.headers.get("user-agent"))
    )
    request.set_session(sessions.session_cookie(user, login))
    if login.second_factor_at is None:  # the code comes first; the page after it goes on to ``next``
        return redirect(second_factor_step(target or ""))
    principal = await accounts.principal_of(db_session, user)
    assert principal is not None
    signed_in = Viewer(principal=principal, memberships=await accounts.memberships_of(db_session, user.id or 0))
    return redirect(target or home_for(signed_in), "signed-in")


@post("/abmelden", name="web:logout", status_code=303)
async def logout(request: AnyRequest, db_session: Session) -> Any:
    login = signin.login_of(request.session if "session" in request.scope else None)
    if login is not None:
        row = await sessions.current(db_session, str(login))
        if row is not None:
            await sessions.end(db_session, row.user_id, login)
    request.clear_session()
    return redirect("/", "signed-out")


ROUTES = [login_form, login, logout]

"""Single sign-on in the browser: "Anmelden mit …" (``/auth/oidc/{provider}`` and its callback) and the
account's page of linked sign-in providers (``/konto/anmeldedienste``).

The rules are in ``identity.services.oidc``; this module keeps the pending sign-ins in the session, starts
the session after a successful callback, and says in German why a sign-in did not happen (each reason
its own status). Every refusal is an audit event and counts against the sign-in throttle of the client.
"""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from allmende.accounts import services as accounts
from allmende.accounts.throttle import LoginThrottle
from allmende.core.problems import Conflict, NotFound, Problem
from allmende.core.settings import Settings
from allmende.web.kit import render
from allmende.web.kit.forms import FormState
from allmende.web.kit.i18n import N_, gettext
from allmende.web.kit.render import login_redirect, page, redirect, safe_next
from allmende.web.kit.viewer import AnyRequest, Session, Viewer, Who
from allmende.web.signin import home_for
from identity.services import oidc, sessions
from identity.services.oidc_http import OidcHttp

PROVIDERS_PAGE = "/konto/anmeldedienste"
Config = NamedDependency[Settings]
Http = NamedDependency[OidcHttp]

render.NOTICES.update(
    {
        "provider-linked": ("success", N_("Der Anmeldedienst ist jetzt mit Ihrem Konto verbunden.")),
        "provider-unlinked": ("success", N_("Die Verbindung zum Anmeldedienst wurde getrennt.")),
        "provider-not-linked": ("error", N_("Dieser Anmeldedienst ist nicht mit Ihrem Konto verbunden.")),
    }
)

# reason -> (title, explanation); the explanation may name the provider as %(label)s
WORDS: dict[str, tuple[str, str]] = {
    "unavailable": (
        N_("Anmeldedienst nicht erreichbar"),
        N_(
            "Der Anmeldedienst „%(label)s“ ist gerade nicht erreichbar. Bitte versuchen Sie es später erneut "
            "oder melden Sie sich mit Ihrem Passwort an. Es wurde nichts gespeichert."
        ),
    ),
    "unknown-provider": (
        N_("Anmeldedienst unbekannt"),
        N_("Diesen Anmeldedienst kennt die Plattform nicht. Bitte wählen Sie einen auf der Anmeldeseite."),
    ),
    "state": (
        N_("Anmeldung nicht möglich"),
        N_(
            "Diese Anmeldung wurde nicht in diesem Browser begonnen, ist abgelaufen oder wurde schon verwendet. "
            "Bitte starten Sie die Anmeldung noch einmal."
        ),
    ),
    "provider-error": (
        N_("Anmeldung abgebrochen"),
        N_("Der Anmeldedienst „%(label)s“ hat die Anmeldung abgebrochen oder abgelehnt."),
    ),
    "token-refused": (
        N_("Anmeldung nicht möglich"),
        N_(
            "Der Anmeldedienst „%(label)s“ hat den Anmeldecode nicht bestätigt: Er war abgelaufen oder wurde "
            "schon verwendet. Bitte starten Sie die Anmeldung noch einmal."
        ),
    ),
    "id-token": (
        N_("Anmeldung nicht möglich"),
        N_(
            "Die Bestätigung des Anmeldedienstes „%(label)s“ war ungültig (Signatur, Gültigkeit, Empfänger "
            "oder Einmalwert stimmen nicht). Aus Sicherheitsgründen wurden Sie nicht angemeldet."
        ),
    ),
    "email-unverified": (
        N_("Konto nicht verknüpft"),
        N_(
            "Der Anmeldedienst „%(label)s“ bestätigt Ihre E-Mail-Adresse nicht. Deshalb verknüpfen wir ihn "
            "nicht automatisch mit einem Konto. Melden Sie sich mit Ihrem Passwort an und verbinden Sie den "
            "Anmeldedienst dann auf der Seite „Anmeldedienste“ Ihres Kontos."
        ),
    ),
    "email-unconfirmed": (
        N_("Konto nicht verknüpft"),
        N_(
            "Zu dieser E-Mail-Adresse gibt es ein Konto, dessen Adresse noch nicht bestätigt ist. Bestätigen "
            "Sie sie zuerst über den Link in der E-Mail; danach können Sie den Anmeldedienst verbinden."
        ),
    ),
    "identity-taken": (
        N_("Verbindung nicht möglich"),
        N_(
            "Ihr Konto beim Anmeldedienst „%(label)s“ ist bereits mit einem anderen Allmende-Konto verbunden. "
            "Trennen Sie es dort zuerst."
        ),
    ),
    "account-inactive": (
        N_("Anmeldung nicht möglich"),
        N_("Das zugehörige Allmende-Konto ist gesperrt oder gelöscht."),
    ),
    "link-session": (
        N_("Verbindung nicht möglich"),
        N_("Während der Verbindung hat sich die Anmeldung in diesem Browser geändert. Bitte versuchen Sie es erneut."),
    ),
    "throttled": (
        N_("Zu viele fehlgeschlagene Anmeldeversuche"),
        N_("Bitte warten Sie 15 Minuten und versuchen Sie es dann erneut."),
    ),
}


def _client(request: AnyRequest) -> str:
    return request.client.host if request.client else "unknown"


def _throttle_key(name: str, request: AnyRequest) -> str:
    # The throttle counts per "account" and per client; a provider's callback has no account before it
    # succeeds, so its failures count per client and provider (and per client, shared with the password).
    return f"oidc:{name[:40]}:{_client(request)}"


def _label(settings: Settings, name: str) -> str:
    return next((p.label for p in oidc.providers(settings) if p.name == name), name[:40])


def failure_page(viewer: Viewer, settings: Settings, name: str, reason: str, status: int) -> Any:
    title, text = WORDS.get(reason, WORDS["state"])
    links = [(f"/auth/oidc/{name}", gettext("Anmeldung neu starten"))] if reason != "unknown-provider" else []
    if not viewer.signed_in:
        links.append(("/anmelden", gettext("Mit E-Mail-Adresse und Passwort anmelden")))
    else:
        links.append((PROVIDERS_PAGE, gettext("Zu Ihren Anmeldediensten")))
    return page(
        "account/provider_error.html",
        {
            "viewer": viewer,
            "status": status,
            "title": gettext(title),
            "message": gettext(text) % {"label": _label(settings, name)},
            "reason": reason,
            "links": links,
        },
        status=status,
        headers={"Retry-After": "900" if status == 429 else "30"} if status in (429, 503) else None,
    )


@get("/auth/oidc/{provider:str}", name="web:oidc-start")
async def start(
    request: AnyRequest, provider: FromPath[str], db_session: Session, viewer: Who, settings: Config, oidc_http: Http
) -> Any:
    linking = request.query_params.get("link") == "1"
    if linking and not viewer.signed_in:
        return login_redirect(request)
    user = viewer.principal.user
    pending = oidc.pending_of(request.session)
    try:
        url = await oidc.begin(
            oidc_http,
            settings,
            provider,
            pending,
            link_user=user.uuid if linking and user else None,
            next_path=PROVIDERS_PAGE if linking else safe_next(request.query_params.get("next"), ""),
        )
    except (oidc.SignInRefused, oidc.ProviderUnavailable) as exc:
        oidc.record_failure(db_session, viewer.principal, provider, exc)
        return failure_page(viewer, settings, provider, exc.reason, exc.status)
    request.set_session(oidc.with_pending(request.session, pending))
    return Redirect(path=url, status_code=303)


@get("/auth/oidc/{provider:str}/callback", name="web:oidc-callback")
async def callback(
    request: AnyRequest,
    provider: FromPath[str],
    db_session: Session,
    viewer: Who,
    settings: Config,
    oidc_http: Http,
    login_throttle: NamedDependency[LoginThrottle],
) -> Any:
    key, client = _throttle_key(provider, request), _client(request)
    try:
        await login_throttle.check(email=key, client=client)
    except Problem:
        return failure_page(viewer, settings, provider, "throttled", 429)
    pending = oidc.pending_of(request.session)
    params = {k: str(v)[:2000] for k, v in request.query_params.items() if k in ("code", "state", "iss", "error")}
    try:
        outcome = await oidc.finish(
            db_session,
            oidc_http,
            settings,
            provider,
            pending,
            params,
            principal=viewer.principal,
            device=request.headers.get("user-agent", ""),
        )
    except (oidc.SignInRefused, oidc.ProviderUnavailable) as exc:
        # Nothing was written before the refusal; the audit event is all this unit of work commits.
        request.set_session(oidc.with_pending(request.session, pending))  # the state is spent either way
        oidc.record_failure(db_session, viewer.principal, provider, exc)
        if exc.reason != "unavailable":
            await login_throttle.failed(email=key, client=client)
        return failure_page(viewer, settings, provider, exc.reason, exc.status)
    await login_throttle.succeeded(email=key)
    if outcome.linking:
        request.set_session(oidc.with_pending(request.session, pending))
        return redirect(outcome.next_path or PROVIDERS_PAGE, "provider-linked")
    assert outcome.login is not None
    request.set_session(sessions.session_cookie(outcome.user, outcome.login))
    target = outcome.next_path
    if not target:
        principal = await accounts.principal_of(
            db_session, outcome.user, second_factor=outcome.login.second_factor_at is not None
        )
        if principal is not None:
            memberships = await accounts.memberships_of(db_session, outcome.user.id or 0)
            target = home_for(Viewer(principal=principal, memberships=memberships))
    return redirect(target or "/", "signed-in")


async def _providers_page(db_session: Session, viewer: Viewer, settings: Settings, form: FormState, status: int) -> Any:
    linked = await oidc.list_identities(db_session, viewer.principal)
    labels = {p.name: p.label for p in oidc.providers(settings)}
    linked_names = {i.provider for i in linked}
    return page(
        "account/providers.html",
        {
            "viewer": viewer,
            "linked": [(i, labels.get(i.provider, i.provider)) for i in linked],
            "available": [p for p in oidc.providers(settings) if p.name not in linked_names],
            "form": form,
        },
        status=status,
    )


@get(PROVIDERS_PAGE, name="web:account-providers")
async def providers_page(db_session: Session, viewer: Who, settings: Config) -> Any:
    return await _providers_page(db_session, viewer, settings, FormState(), 200)


@post(PROVIDERS_PAGE + "/{provider:str}/trennen", name="web:account-provider-unlink", status_code=303)
async def unlink(provider: FromPath[str], db_session: Session, viewer: Who, settings: Config) -> Any:
    try:
        await oidc.unlink(db_session, viewer.principal, provider)
    except NotFound:
        return redirect(PROVIDERS_PAGE, "provider-not-linked")
    except Conflict:
        form = FormState(values={"provider": provider})
        form.fail(
            "_form",
            gettext(
                "Über „%(label)s“ melden Sie sich als Einziges an: Ihr Konto hat noch kein Passwort. "
                "Legen Sie zuerst über „Passwort vergessen“ eines fest; danach können Sie die Verbindung trennen."
            )
            % {"label": _label(settings, provider)},
        )
        return await _providers_page(db_session, viewer, settings, form, 409)
    return redirect(PROVIDERS_PAGE, "provider-unlinked")


ROUTES = [start, callback]
SIGNED_IN = [providers_page, unlink]

"""HTTP of signing in and of one's own account: sign-in and sign-out, registration, confirmation and reset
links, the signed-in sessions, and the account (DSGVO export and deletion). Thin: the rules are in
``identity.services``; every endpoint that takes a secret or sends a mail is throttled."""

from __future__ import annotations

import uuid
from typing import Any, cast

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.principal import Principal
from allmende.accounts.schemas import LoginIn, MembershipOut, UserOut
from allmende.accounts.throttle import LoginThrottle, Throttle
from allmende.core.audit import record_audit
from allmende.core.problems import NotFound, problem_response
from identity.policies import account_holder
from identity.schemas import (
    Accepted,
    AccountDeleteIn,
    AccountOut,
    AccountUpdate,
    EmailChangeIn,
    ExportOut,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RegisterIn,
    SessionOut,
    SessionsEnded,
    SignedIn,
    TokenIn,
)
from identity.services import account, registration, sessions, signin

Session = NamedDependency[AsyncSession]
Caller = NamedDependency[Principal]
Throttles = NamedDependency[Throttle]
AnyRequest = Request[Any, Any, Any]

CHECK_MAILBOX = "if the address can be used, a message with the next step is on its way to it"


def client_of(request: AnyRequest) -> str:
    return request.client.host if request.client else "unknown"


def device_of(request: AnyRequest) -> str:
    return signin.device(request.headers.get("user-agent"))


def current_login(request: AnyRequest) -> uuid.UUID | None:
    return signin.login_of(request.session if "session" in request.scope else None)


async def _user_out(session: AsyncSession, principal: Principal) -> UserOut:
    user = principal.require_user()
    memberships = await accounts.memberships_of(session, user.id or 0)
    return UserOut(
        uuid=user.uuid,
        email=user.email,
        display_name=user.display_name,
        platform_role=principal.platform_role,
        memberships=[
            MembershipOut(organization=m.organization.slug, organization_name=m.organization.name, role=m.role)
            for m in memberships
        ],
    )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]  # noqa: RUF012 (Litestar reads it as a class attribute)

    @post("/login", summary="Sign in with e-mail and password; sets the session cookie")
    async def login(
        self,
        request: AnyRequest,
        data: JSONBody[LoginIn],
        db_session: Session,
        login_throttle: NamedDependency[LoginThrottle],
    ) -> Response[SignedIn]:
        client = client_of(request)
        email = accounts.normalize_email(data.email)
        await login_throttle.check(email=email, client=client)
        user = await accounts.authenticate(db_session, email, data.password)
        if user is None:
            await login_throttle.failed(email=email, client=client)
            signin.failed(db_session, await accounts.get_user_by_email(db_session, email), "password")
            # The same words whether the account exists or not; returned, not raised, so the audit event stays.
            return _problem(request, 401, "unauthorized", "E-mail address or password is wrong.")
        await login_throttle.succeeded(email=email)
        if user.email_confirmed_at is None:
            signin.failed(db_session, user, "unconfirmed")
            return _problem(
                request,
                403,
                "email-unconfirmed",
                "confirm your e-mail address first: the link is in the message we sent at registration",
                field="email",
            )
        login = await sessions.start(db_session, user, method="password", device=device_of(request))
        request.set_session(sessions.session_cookie(user, login))
        principal = await accounts.principal_of(db_session, user, second_factor=login.second_factor_at is not None)
        assert principal is not None
        out = await _user_out(db_session, principal)
        signed_in = SignedIn(**out.model_dump(), second_factor_required=login.second_factor_at is None)
        return Response(signed_in, status_code=201)

    @post("/logout", status_code=HTTP_204_NO_CONTENT)
    async def logout(self, request: AnyRequest, db_session: Session) -> None:
        login = current_login(request)
        if login is not None:
            row = await sessions.current(db_session, str(login))
            if row is not None:
                await sessions.end(db_session, row.user_id, login)
        request.clear_session()

    @get("/me")
    async def me(self, db_session: Session, principal: Caller) -> UserOut:
        return await _user_out(db_session, principal)

    @post("/register", status_code=HTTP_202_ACCEPTED, summary="Register; the confirmation link comes by e-mail")
    async def register(
        self, request: AnyRequest, data: JSONBody[RegisterIn], db_session: Session, throttle: Throttles
    ) -> Accepted:
        await throttle.spend("register", account=accounts.normalize_email(data.email), client=client_of(request))
        await registration.register(
            db_session, email=data.email, display_name=data.display_name, password=data.password, language=data.language
        )
        return Accepted(detail=CHECK_MAILBOX)

    @post("/confirm-email", status_code=200, summary="Confirm an address with the token of the mailed link")
    async def confirm_email(
        self, request: AnyRequest, data: JSONBody[TokenIn], db_session: Session, throttle: Throttles
    ) -> Accepted:
        await throttle.spend("confirm-link", account=data.token, client=client_of(request))
        confirmed = await registration.confirm_email(db_session, data.token)
        return Accepted(
            detail="the new address is in effect" if confirmed.changed_address else "the address is confirmed"
        )

    @post("/password-reset", status_code=HTTP_202_ACCEPTED, summary="Ask for a reset link by e-mail")
    async def password_reset(
        self, request: AnyRequest, data: JSONBody[PasswordResetIn], db_session: Session, throttle: Throttles
    ) -> Accepted:
        await throttle.spend("password-reset", account=accounts.normalize_email(data.email), client=client_of(request))
        await registration.request_reset(db_session, data.email)
        return Accepted(detail=CHECK_MAILBOX)

    @post("/password-reset/confirm", status_code=200, summary="Set a new password; ends every session")
    async def password_reset_confirm(
        self, request: AnyRequest, data: JSONBody[PasswordResetConfirmIn], db_session: Session, throttle: Throttles
    ) -> Accepted:
        await throttle.spend("confirm-link", account=data.token, client=client_of(request))
        await registration.reset_password(db_session, data.token, data.password)
        request.clear_session()
        return Accepted(detail="the new password is set; sign in with it")

    @get("/sessions", summary="The signed-in sessions of the person, most recently used first")
    async def list_sessions(self, request: AnyRequest, db_session: Session, principal: Caller) -> list[SessionOut]:
        user = account_holder(principal)
        current = current_login(request)
        return [account.session_out(s, current) for s in await sessions.list_for(db_session, user.id or 0)]

    @delete("/sessions/{session_uuid:uuid}", status_code=HTTP_204_NO_CONTENT, summary="End one session")
    async def end_session(
        self, request: AnyRequest, session_uuid: FromPath[uuid.UUID], db_session: Session, principal: Caller
    ) -> None:
        user = account_holder(principal)
        if not await sessions.end(db_session, user.id or 0, session_uuid):
            raise NotFound("no such session of yours", field="uuid")
        record_audit(
            db_session,
            action="user.session_end",
            record_type="user",
            record_uuid=user.uuid,
            actor_user_id=user.id,
            data={"session": str(session_uuid)},
        )
        if session_uuid == current_login(request):
            request.clear_session()

    @delete("/sessions", status_code=200, summary="End every session but this one")
    async def end_other_sessions(self, request: AnyRequest, db_session: Session, principal: Caller) -> SessionsEnded:
        user = account_holder(principal)
        ended = await sessions.end_all(db_session, user.id or 0, keep=current_login(request))
        record_audit(
            db_session,
            action="user.sessions_end",
            record_type="user",
            record_uuid=user.uuid,
            actor_user_id=user.id,
            data={"ended": ended},
        )
        return SessionsEnded(ended=ended)


class AccountController(Controller):
    """The person's own account (DSGVO Art. 15, 17, 20)."""

    path = "/api/v1/auth/account"
    tags = ["auth"]  # noqa: RUF012

    @get("/")
    async def get_account(self, principal: Caller) -> AccountOut:
        return account.account_out(account_holder(principal))

    @patch("/", summary="Name, language, notices by e-mail; a new password with the current one")
    async def update_account(
        self,
        request: AnyRequest,
        data: JSONBody[AccountUpdate],
        db_session: Session,
        principal: Caller,
        throttle: Throttles,
    ) -> AccountOut:
        user = account_holder(principal)
        await account.update(
            db_session, user, display_name=data.display_name, language=data.language, mail_notices=data.mail_notices
        )
        if data.new_password is not None:
            await throttle.spend("current-password", account=user.email, client=client_of(request))
            await account.change_password(
                db_session,
                user,
                current_password=data.current_password or "",
                new_password=data.new_password,
                keep=current_login(request),
            )
            await throttle.forget("current-password", account=user.email)
        return account.account_out(user)

    @delete("/", status_code=HTTP_204_NO_CONTENT, summary="Delete the account (DSGVO Art. 17)")
    async def delete_account(
        self,
        request: AnyRequest,
        data: JSONBody[AccountDeleteIn],
        db_session: Session,
        principal: Caller,
        throttle: Throttles,
    ) -> None:
        user = account_holder(principal)
        await throttle.spend("current-password", account=user.email, client=client_of(request))
        await account.delete_account(db_session, user, current_password=data.current_password)
        request.clear_session()

    @post("/email", status_code=HTTP_202_ACCEPTED, summary="Change the address; it takes effect once confirmed")
    async def change_email(
        self,
        request: AnyRequest,
        data: JSONBody[EmailChangeIn],
        db_session: Session,
        principal: Caller,
        throttle: Throttles,
    ) -> Accepted:
        user = account_holder(principal)
        await throttle.spend("current-password", account=user.email, client=client_of(request))
        await account.request_email_change(db_session, user, email=data.email, current_password=data.current_password)
        await throttle.forget("current-password", account=user.email)
        return Accepted(detail="a confirmation link is on its way to the new address")

    @get("/export", summary="Everything stored about the person, as JSON (DSGVO Art. 15 and 20)")
    async def export(self, db_session: Session, principal: Caller) -> Response[ExportOut]:
        user = account_holder(principal)
        data = await account.export(db_session, user)
        return Response(
            data,
            headers={"Content-Disposition": 'attachment; filename="allmende-daten.json"', "Cache-Control": "no-store"},
        )


def _problem(request: AnyRequest, status: int, slug: str, detail: str, *, field: str | None = None) -> Response[Any]:
    errors = [{"field": field, "detail": detail}] if field else None
    return cast(Response[Any], problem_response(request, status=status, type_slug=slug, detail=detail, errors=errors))

"""HTTP for two-factor login: the second step of signing in, turning TOTP on and off, recovery codes.

Thin: the rules are in ``identity.services.second_factor``. A refused code is answered here (422 naming
``code``) instead of raised on, so the unit of work keeps the audit event of the failed attempt; the
service has written nothing else by then.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import User
from allmende.accounts.principal import Principal
from allmende.accounts.throttle import LoginThrottle
from allmende.core.problems import Conflict, Forbidden, Unauthorized, problem_handler
from identity.models import LoginSession
from identity.schemas import CodeIn, RecoveryCodesOut, SecondFactorGiven, TotpEnrollmentOut, TotpStatusOut
from identity.services import second_factor, sessions

Session = NamedDependency[AsyncSession]
Caller = NamedDependency[Principal]
Throttle = NamedDependency[LoginThrottle]
AnyRequest = Request[Any, Any, Any]


def _client(request: AnyRequest) -> str:
    return request.client.host if request.client else "unknown"


async def _login(request: AnyRequest, db_session: AsyncSession) -> LoginSession | None:
    cookie = request.scope.get("session")
    login_uuid = cookie.get("login") if isinstance(cookie, dict) else None
    return await sessions.current(db_session, str(login_uuid) if login_uuid else None)


def _fully_signed_in(principal: Principal) -> User:
    """Changing the second factor needs a session that gave it (or never needed it)."""
    user = principal.require_user()
    if not principal.second_factor:
        raise Forbidden("give the second factor of this session first (POST /api/v1/auth/second-factor)")
    return user


def _may_set_up(principal: Principal) -> User:
    """Setting TOTP up: a fully signed-in person, or a moderator whose sign-in waits for a factor they
    do not have yet (the set-up is how they finish signing in)."""
    user = principal.require_user()
    if user.totp_enabled_at is not None:
        raise Conflict("two-factor login is on already; turn it off first to set up a new authenticator")
    return user


class SecondFactorController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]  # noqa: RUF012 (Litestar reads it as a class attribute)

    @post("/second-factor", status_code=HTTP_200_OK, summary="Give the second factor of a waiting sign-in")
    async def give(
        self, request: AnyRequest, data: JSONBody[CodeIn], db_session: Session, code_throttle: Throttle
    ) -> Response[Any]:
        login = await _login(request, db_session)
        if login is None:
            raise Unauthorized("sign in with your password first")
        user = await db_session.get(User, login.user_id)
        assert user is not None
        try:
            method = await second_factor.give(
                db_session, user, login, data.code, guard=code_throttle, client=_client(request)
            )
        except second_factor.CodeRefused as refused:
            return problem_handler(request, refused)
        left = (await second_factor.status(db_session, user)).recovery_codes_left
        return Response(SecondFactorGiven(method=method.value, recovery_codes_left=left))

    @get("/totp", summary="Whether two-factor login is on, required, being set up; recovery codes left")
    async def totp_status(self, db_session: Session, principal: Caller) -> TotpStatusOut:
        found = await second_factor.status(db_session, principal.require_user())
        return TotpStatusOut(
            enabled=found.enabled,
            enabled_at=found.enabled_at,
            required=found.required,
            pending=found.pending,
            recovery_codes_left=found.recovery_codes_left,
        )

    @post("/totp", status_code=HTTP_200_OK, summary="Start setting up TOTP: a new secret and its otpauth URI")
    async def begin(self, db_session: Session, principal: Caller) -> TotpEnrollmentOut:
        user = _may_set_up(principal)
        enrollment = await second_factor.begin(db_session, user)
        return TotpEnrollmentOut(
            secret=enrollment.secret,
            otpauth_uri=enrollment.uri,
            digits=second_factor.DIGITS,
            period=second_factor.INTERVAL,
        )

    @post("/totp/confirm", status_code=HTTP_200_OK, summary="Turn TOTP on with a first code; recovery codes once")
    async def confirm(
        self,
        request: AnyRequest,
        data: JSONBody[CodeIn],
        db_session: Session,
        principal: Caller,
        code_throttle: Throttle,
    ) -> Response[Any]:
        user = _may_set_up(principal)
        try:
            codes = await second_factor.confirm(
                db_session,
                user,
                data.code,
                guard=code_throttle,
                client=_client(request),
                login=await _login(request, db_session),
            )
        except second_factor.CodeRefused as refused:
            return problem_handler(request, refused)
        return Response(RecoveryCodesOut(recovery_codes=codes))

    # Answers 204 (200 is only the declared default: a refused code answers 422 with a body).
    @delete("/totp", status_code=HTTP_200_OK, summary="Turn TOTP off with a current code; 204")
    async def disable(
        self,
        request: AnyRequest,
        data: JSONBody[CodeIn],
        db_session: Session,
        principal: Caller,
        code_throttle: Throttle,
    ) -> Response[Any]:
        user = _fully_signed_in(principal)
        try:
            await second_factor.disable(db_session, user, data.code, guard=code_throttle, client=_client(request))
        except second_factor.CodeRefused as refused:
            return problem_handler(request, refused)
        return Response(None, status_code=HTTP_204_NO_CONTENT)

    @post("/recovery-codes", status_code=HTTP_200_OK, summary="New recovery codes for a current code")
    async def regenerate(
        self,
        request: AnyRequest,
        data: JSONBody[CodeIn],
        db_session: Session,
        principal: Caller,
        code_throttle: Throttle,
    ) -> Response[Any]:
        user = _fully_signed_in(principal)
        try:
            codes = await second_factor.regenerate(
                db_session, user, data.code, guard=code_throttle, client=_client(request)
            )
        except second_factor.CodeRefused as refused:
            return problem_handler(request, refused)
        return Response(RecoveryCodesOut(recovery_codes=codes))

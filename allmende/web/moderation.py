"""The moderators' queue: submitted solutions and submitted edits; publish, request changes, archive; and
the organization claims waiting for a decision (issue 14)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from litestar import get, post
from litestar.params import FromPath

from allmende.core.problems import Conflict, Forbidden, NotFound, PreconditionFailed
from allmende.core.versions import etag
from allmende.web.catalog.solution_form import FIELDS, changed_fields, content_rows
from allmende.web.kit.i18n import gettext
from allmende.web.kit.render import forbidden, page, redirect
from allmende.web.kit.viewer import AnyRequest, Caller, Config, Session, Viewer, Who
from allmende.web.kit.vocabularies import load_vocabularies
from allmende.web.signin import second_factor_step
from identity.services import claims
from marketplace import services as marketplace
from marketplace.schemas import SolutionOut

MIN_REASON, MAX_REASON = 3, 2000
NEW_SOLUTION_FIELDS = {
    "summary",
    "kind",
    "license",
    "development_status",
    "stages",
    "sectors",
    "hosting_options",
    "hosting_location",
    "avv_available",
    "accessibility",
    "pricing_model",
}


@dataclass
class QueueItem:
    out: SolutionOut
    is_edit: bool
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # label, published, pending (edits)
    facts: list[tuple[str, str, str]] = field(default_factory=list)  # name, label, value (new solutions)
    reason: str = ""
    error: str | None = None


def _forbidden(viewer: Viewer) -> Any:
    user = viewer.principal.user
    if user is not None and user.platform_role and not viewer.principal.second_factor:
        # A moderator signed in with the password alone: the code first, then the queue.
        return redirect(second_factor_step("/moderation"))
    return forbidden(viewer, gettext("Die Prüfwarteschlange sehen nur Moderatorinnen und Moderatoren."))


async def _queue_page(
    db_session: Any,
    principal: Any,
    settings: Any,
    viewer: Viewer,
    *,
    errors: dict[str, tuple[str, str]] | None = None,
    claim_errors: dict[str, dict[str, str]] | None = None,
) -> Any:
    vocab = await load_vocabularies(db_session)
    solutions = await marketplace.review_queue(db_session)
    outs = await marketplace.solution_outs(db_session, principal, solutions, settings.base_url)
    items = []
    for solution, out in zip(solutions, outs, strict=True):
        is_edit = out.state == "published" and out.pending is not None
        item = QueueItem(out=out, is_edit=is_edit)
        if is_edit:
            assert out.pending is not None
            published = marketplace.content_of(solution)
            differing = set(changed_fields(published, out.pending.content))
            pending = {n: v for n, _l, v in content_rows(vocab, out.pending.content, only=differing)}
            item.rows = [
                (label, value, pending[n]) for n, label, value in content_rows(vocab, published, only=differing)
            ]
        else:
            item.facts = content_rows(vocab, marketplace.content_of(solution), only=NEW_SOLUTION_FIELDS)
        if errors and out.slug in errors:
            item.reason, item.error = errors[out.slug]
        items.append(item)
    claim_errors = claim_errors or {}
    pending_claims = await claims.list_claims(db_session, principal, state=claims.ClaimState.pending)
    return page(
        "moderation/moderation.html",
        {
            "viewer": viewer,
            "items": items,
            "field_count": len(FIELDS),
            "claims": [(view.out(), claim_errors.get(str(view.claim.uuid), {})) for view in pending_claims],
            "own_orgs": set(principal.roles),
            "claim_ids": {str(view.claim.uuid): view.organization.id for view in pending_claims},
        },
        status=422 if errors or claim_errors else 200,
    )


@get("/moderation", name="web:moderation")
async def queue(request: AnyRequest, db_session: Session, principal: Caller, settings: Config, viewer: Who) -> Any:
    if not viewer.is_moderator:
        return _forbidden(viewer)
    return await _queue_page(db_session, principal, settings, viewer)


def _etag(solution: Any, version: str) -> str | None:
    return etag(solution.uuid, version.strip()) if version.strip() else None


@post("/moderation/{slug:str}/{action:str}", name="web:moderate", status_code=303)
async def moderate(
    request: AnyRequest,
    slug: FromPath[str],
    action: FromPath[str],
    db_session: Session,
    principal: Caller,
    settings: Config,
    viewer: Who,
) -> Any:
    if not viewer.is_moderator:
        return _forbidden(viewer)
    form = await request.form()
    version = str(form.get("version") or "")
    reason = str(form.get("reason") or "").strip()
    solution = await marketplace.get_solution(db_session, principal, slug)
    if_match = _etag(solution, version)
    try:
        if action == "veroeffentlichen":
            await marketplace.publish(db_session, principal, solution, if_match)
            notice = "published"
        elif action == "aenderungen":
            if not MIN_REASON <= len(reason) <= MAX_REASON:
                message = (
                    gettext("Bitte begründen Sie, was der Anbieter ändern soll (mindestens drei Zeichen).")
                    if len(reason) < MIN_REASON
                    else gettext("Die Begründung ist zu lang: höchstens %(max)s Zeichen.", max=str(MAX_REASON))
                )
                return await _queue_page(
                    db_session, principal, settings, viewer, errors={slug: (str(form.get("reason") or ""), message)}
                )
            await marketplace.request_changes(db_session, principal, solution, reason, if_match)
            notice = "changes-requested"
        elif action == "archivieren":
            await marketplace.archive(db_session, principal, solution, reason[:MAX_REASON] or None, if_match)
            notice = "archived"
        else:
            return redirect("/moderation")
    except Forbidden:
        notice = "own-organization"
    except PreconditionFailed:
        notice = "stale"
    except Conflict:
        notice = "wrong-state"
    return redirect("/moderation", notice)


@post("/moderation/antraege/{claim:uuid}/{action:str}", name="web:claim-decide", status_code=303)
async def decide_claim(
    request: AnyRequest,
    claim: FromPath[uuid.UUID],
    action: FromPath[str],
    db_session: Session,
    principal: Caller,
    settings: Config,
    viewer: Who,
) -> Any:
    """Verify or reject an organization claim: the evidence (verify) and a note (both) are required."""
    if not viewer.is_moderator:
        return _forbidden(viewer)
    form = await request.form()
    note = str(form.get("note") or "").strip()
    evidence = str(form.get("evidence") or "")
    problems: dict[str, str] = {"note": note}
    if not MIN_REASON <= len(note) <= MAX_REASON:
        problems["note_error"] = gettext("Bitte halten Sie fest, wie Sie geprüft haben (3 bis 2.000 Zeichen).")
    if action == "bestaetigen" and evidence not in claims.EVIDENCE:
        problems["evidence_error"] = gettext("Bitte wählen Sie, worauf die Bestätigung beruht.")
    if "note_error" in problems or "evidence_error" in problems:
        return await _queue_page(db_session, principal, settings, viewer, claim_errors={str(claim): problems})
    try:
        if action == "bestaetigen":
            await claims.verify(db_session, principal, claim, evidence=evidence, note=note)
            notice = "claim-verified"
        elif action == "ablehnen":
            await claims.reject(db_session, principal, claim, note=note)
            notice = "claim-rejected"
        else:
            return redirect("/moderation")
    except Forbidden:
        notice = "own-organization-claim"
    except (Conflict, NotFound):
        notice = "wrong-state"
    return redirect("/moderation", notice)


ROUTES = [queue, moderate, decide_claim]

"""The vendor's pages: own organizations' solutions with their state, create, edit and submit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import get, post
from litestar.params import FromPath

from allmende.accounts import services as accounts
from allmende.core.problems import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed, Problem
from allmende.core.versions import etag
from allmende.web.catalog.solution_form import FIELD_BY_NAME, GROUPS, SolutionForm, changed_fields, content_rows
from allmende.web.kit.forms import small_number
from allmende.web.kit.i18n import gettext
from allmende.web.kit.render import PENDING_LABELS, STATE_LABELS, forbidden, page, redirect
from allmende.web.kit.viewer import AnyRequest, Caller, Config, Session, Viewer, Who
from allmende.web.kit.vocabularies import Vocabularies, load_vocabularies
from marketplace import policies
from marketplace import services as marketplace
from marketplace.policies import Solution
from marketplace.schemas import SolutionCreate, SolutionOut


@dataclass
class Row:
    """A solution in the dashboard, with what its editors may do next."""

    out: SolutionOut
    can_edit: bool
    can_submit: bool

    @property
    def status(self) -> str:
        label = gettext(STATE_LABELS.get(self.out.state, self.out.state))
        if self.out.pending is not None:
            label += " · " + gettext(PENDING_LABELS.get(self.out.pending.state, self.out.pending.state))
        return label

    @property
    def reason(self) -> str | None:
        if self.out.pending is not None and self.out.pending.state == "changes_requested":
            return self.out.pending.reason
        return self.out.moderation_reason if self.out.state == "changes_requested" else None


def row_for(out: SolutionOut, may_edit: bool, may_draft: bool | None = None) -> Row:
    """``may_edit``: submit for publication; ``may_draft`` (default: the same): change the draft. A claimant
    whose membership waits for a moderator drafts but does not submit (issue 14)."""
    may_draft = may_edit if may_draft is None else may_draft
    pending = out.pending.state if out.pending else None
    editable = out.state in ("draft", "changes_requested") or (out.state == "published" and pending != "submitted")
    submittable = out.state in ("draft", "changes_requested") or (
        out.state == "published" and pending in ("draft", "changes_requested")
    )
    return Row(out=out, can_edit=may_draft and editable, can_submit=may_edit and submittable)


def _etag(solution: Solution, version: str) -> str:
    return etag(solution.uuid, version.strip())


@get("/anbieter", name="web:vendor")
async def dashboard(request: AnyRequest, db_session: Session, principal: Caller, settings: Config, viewer: Who) -> Any:
    sections = []
    for membership in viewer.vendor_orgs:
        org = membership.organization
        outs = await marketplace.list_for_provider(db_session, principal, org, settings.base_url)
        may_edit = policies.may_edit_for(principal, org.id)
        may_draft = policies.may_draft_for(principal, org.id)
        sections.append(
            (
                accounts.organization_out(org, settings.base_url),
                may_draft,
                [row_for(o, may_edit, may_draft) for o in outs],
            )
        )
    return page("catalog/vendor.html", {"viewer": viewer, "sections": sections})


def _form_page(
    viewer: Viewer,
    vocab: Vocabularies,
    form: SolutionForm,
    *,
    mode: str,
    status: int = 200,
    solution: SolutionOut | None = None,
    version: int | None = None,
    provider: str | None = None,
    stale: dict[str, Any] | None = None,
) -> Any:
    return page(
        "catalog/solution_form.html",
        {
            "viewer": viewer,
            "vocab": vocab,
            "form": form,
            "fields": FIELD_BY_NAME,
            "groups": GROUPS,
            "mode": mode,
            "solution": solution,
            "version": version,
            "provider": provider,
            "providers": [(m.organization.slug, m.organization.name) for m in viewer.editor_orgs],
            "stale": stale,
        },
        status=status,
    )


@get("/anbieter/loesungen/neu", name="web:solution-new")
async def new_solution(request: AnyRequest, db_session: Session, viewer: Who) -> Any:
    if not viewer.editor_orgs:
        return forbidden(viewer, gettext("Lösungen anlegen können Redakteurinnen und Redakteure eines Anbieters."))
    return _form_page(viewer, await load_vocabularies(db_session), SolutionForm.empty(), mode="create")


@post("/anbieter/loesungen/neu", name="web:solution-create", status_code=200)
async def create_solution(request: AnyRequest, db_session: Session, principal: Caller, viewer: Who) -> Any:
    if not viewer.editor_orgs:
        return forbidden(viewer, gettext("Lösungen anlegen können Redakteurinnen und Redakteure eines Anbieters."))
    raw = await request.form()
    vocab = await load_vocabularies(db_session)
    form = SolutionForm.from_post(raw)
    provider = str(raw.get("provider") or "")
    providers = {m.organization.slug for m in viewer.editor_orgs}
    form.validate(vocab)
    if provider not in providers:
        form.errors["provider"] = gettext("Bitte wählen Sie die anbietende Organisation.")
    if not form.errors:
        try:
            data = SolutionCreate.model_validate({**form.payload(), "provider": provider})
            created = await marketplace.create_solution(db_session, principal, data)
            if raw.get("danach") == "einreichen":
                await marketplace.submit(db_session, principal, created, None)
                return redirect("/anbieter", "submitted")
        except Problem as problem:
            form.add_service_error(problem.field, problem.detail)
        except ValueError as exc:  # the schema disagrees after all: show it at the form
            form.add_service_error(None, str(exc))
    if form.errors:
        return _form_page(viewer, vocab, form, mode="create", status=422, provider=provider)
    return redirect("/anbieter", "created")


async def _editable(db_session: Any, principal: Any, slug: str) -> Solution:
    solution = await marketplace.get_solution(db_session, principal, slug)
    if not policies.may_draft(principal, solution):
        raise Forbidden("editors only")
    return solution


@get("/anbieter/loesungen/{slug:str}/bearbeiten", name="web:solution-edit")
async def edit_solution(
    request: AnyRequest, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config, viewer: Who
) -> Any:
    try:
        solution = await _editable(db_session, principal, slug)
    except Forbidden:
        return forbidden(viewer, gettext("Diese Lösung können nur Redakteurinnen und Redakteure des Anbieters ändern."))
    out = await marketplace.solution_out(db_session, principal, solution, settings.base_url)
    if not row_for(out, True).can_edit:
        return redirect("/anbieter", "wrong-state")
    form = SolutionForm.from_content(marketplace.editable_content(solution))
    return _form_page(
        viewer, await load_vocabularies(db_session), form, mode="edit", solution=out, version=solution.version
    )


@post("/anbieter/loesungen/{slug:str}/bearbeiten", name="web:solution-update", status_code=200)
async def update_solution(
    request: AnyRequest, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config, viewer: Who
) -> Any:
    try:
        solution = await _editable(db_session, principal, slug)
    except Forbidden:
        return forbidden(viewer, gettext("Diese Lösung können nur Redakteurinnen und Redakteure des Anbieters ändern."))
    raw = await request.form()
    version = str(raw.get("version") or "")
    vocab = await load_vocabularies(db_session)
    form = SolutionForm.from_post(raw)
    out = await marketplace.solution_out(db_session, principal, solution, settings.base_url)
    stale = None
    if form.validate(vocab):
        try:
            await marketplace.update_solution(db_session, principal, solution, form.payload(), _etag(solution, version))
            if raw.get("danach") == "einreichen":
                await marketplace.submit(db_session, principal, solution, None)
                return redirect("/anbieter", "submitted")
            return redirect("/anbieter", "saved")
        except PreconditionFailed:
            stored = marketplace.editable_content(solution)
            differing = set(changed_fields(stored, form.payload()))
            theirs = content_rows(vocab, stored, only=differing)
            yours = {name: value for name, _label, value in content_rows(vocab, form.payload(), only=differing)}
            stale = {
                "version": solution.version,
                "rows": [(label, value, yours[name]) for name, label, value in theirs],
                "updated_at": solution.updated_at,
            }
            version = str(solution.version)
        except Conflict:
            return redirect("/anbieter", "wrong-state")
        except (InvalidInput, NotFound) as problem:
            form.add_service_error(problem.field, problem.detail)
    return _form_page(
        viewer,
        vocab,
        form,
        mode="edit",
        status=409 if stale else 422,
        solution=out,
        version=small_number(version) or solution.version,
        stale=stale,
    )


@post("/anbieter/loesungen/{slug:str}/einreichen", name="web:solution-submit", status_code=303)
async def submit_solution(
    request: AnyRequest, slug: FromPath[str], db_session: Session, principal: Caller, viewer: Who
) -> Any:
    raw = await request.form()
    try:
        solution = await _editable(db_session, principal, slug)
        await marketplace.submit(db_session, principal, solution, _etag(solution, str(raw.get("version") or "")))
    except Forbidden:
        return redirect("/anbieter", "not-allowed")
    except PreconditionFailed:
        return redirect("/anbieter", "stale")
    except Conflict:
        return redirect("/anbieter", "wrong-state")
    return redirect("/anbieter", "submitted")


ROUTES = [dashboard, new_solution, create_solution, edit_solution, update_solution, submit_solution]

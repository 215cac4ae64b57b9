"""The guide editor: write and change guides with a preview, read their history, compare and restore.

Who: moderators, and editors of the organization a guide belongs to (the service's rule, checked here
too so the pages can say so before anyone types). Every save writes a new revision; restoring writes
one more with the old content, so history is never rewritten. The preview is a POST that renders the
Markdown through the same safe renderer as the published page and shows the form again: it works
without JavaScript and saves nothing. A stale save (someone saved in between) answers 409 with the
stored and the typed version side by side and the new version number in the hidden field.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from litestar import get, post
from litestar.params import FromPath
from pydantic_core import ErrorDetails

from allmende.core import markdown
from allmende.core.pagination import PositiveNumber
from allmende.core.problems import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed, Problem
from allmende.core.text import slugify
from allmende.core.versions import etag
from allmende.web.kit.forms import Field, FormState, schema_message, small_number
from allmende.web.kit.i18n import N_, gettext
from allmende.web.kit.render import forbidden, not_found, page, redirect
from allmende.web.kit.viewer import AnyRequest, Caller, Session, Viewer, Who
from allmende.web.kit.vocabularies import Vocabularies, load_vocabularies
from allmende.web.knowledge.hub import guide_missing
from knowledge import policies
from knowledge import services as knowledge
from knowledge.policies import Guide
from knowledge.schemas import GuideCreate, GuideFields, RevisionOut

MAX_TAGS, MAX_TAG_LENGTH, MAX_NOTE = 20, 40, 500
RESERVED_SLUGS = {"neu"}

FIELDS: tuple[Field, ...] = (
    Field("title", N_("Titel"), "text", required=True, max_length=300),
    Field(
        "summary",
        N_("Kurzfassung"),
        "textarea",
        max_length=1000,
        hint=N_("Zwei, drei Sätze: worum es geht und für wen. Höchstens 1000 Zeichen."),
    ),
    Field("stage", N_("Stufe des Stufenplans"), "select", vocabulary="stages", required=True),
    Field("step", N_("Schritt zur Smart City"), "select", vocabulary="steps", required=True),
    Field(
        "tags",
        N_("Schlagworte"),
        "text",
        hint=N_("Durch Komma getrennt, z. B. beschaffung, open-source. Höchstens 20."),
    ),
    Field(
        "body",
        N_("Text"),
        "markdown",
        hint=N_(
            "Markdown: Abschnitte mit ## Überschrift (daraus entsteht das Inhaltsverzeichnis), "
            "Listen mit -, Links als [Text](https://…), Tabellen mit |."
        ),
    ),
    Field(
        "note",
        N_("Was haben Sie geändert?"),
        "text",
        max_length=MAX_NOTE,
        hint=N_("Eine kurze Notiz für die Versionsgeschichte (optional)."),
    ),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
CONTENT = ("title", "stage", "step", "tags", "summary", "body")


@dataclass
class GuideForm(FormState):
    @classmethod
    def empty(cls) -> GuideForm:
        return cls(values={f.name: "" for f in FIELDS})

    @classmethod
    def from_guide(cls, guide: Any) -> GuideForm:
        values = {name: getattr(guide, name) for name in CONTENT}
        values["tags"] = ", ".join(values["tags"] or [])
        values["note"] = ""
        return cls(values={k: "" if v is None else v for k, v in values.items()})

    @classmethod
    def from_post(cls, form: Any) -> GuideForm:
        return cls(values={f.name: str(form.get(f.name) or "")[:300_000] for f in FIELDS})

    def tags(self) -> list[str]:
        return list(dict.fromkeys(t.strip() for t in re.split(r"[,;\n]", str(self.values["tags"])) if t.strip()))

    def payload(self) -> dict[str, Any]:
        """The content as the knowledge service takes it."""
        return {
            "title": str(self.values["title"]).strip(),
            "stage": str(self.values["stage"]),
            "step": str(self.values["step"]),
            "tags": self.tags(),
            "summary": str(self.values["summary"]).strip(),
            "body": str(self.values["body"]).replace("\r\n", "\n"),
        }

    @property
    def note(self) -> str | None:
        return str(self.values["note"]).strip()[:MAX_NOTE] or None

    def validate(self, vocab: Vocabularies) -> bool:
        """Fill ``errors`` (one German message per field); True when the guide may be saved."""
        self.check_schema(GuideFields, self.payload(), _message, "body")
        tags = self.tags()
        if len(tags) > MAX_TAGS:
            self.errors["tags"] = gettext("Das sind zu viele Schlagworte: höchstens %(max)s.", max=str(MAX_TAGS))
        elif any(len(t) > MAX_TAG_LENGTH for t in tags):
            self.errors["tags"] = gettext(
                "Ein Schlagwort darf höchstens %(max)s Zeichen lang sein.", max=str(MAX_TAG_LENGTH)
            )
        for name, vocabulary in (("stage", "stages"), ("step", "steps")):
            value = self.values[name]
            if name not in self.errors and value not in vocab.keys(vocabulary):
                self.errors[name] = gettext("Bitte wählen Sie einen der angebotenen Werte.")
        if len(str(self.values["note"]).strip()) > MAX_NOTE:
            self.errors["note"] = gettext("Der Text ist zu lang: höchstens %(max)s Zeichen.", max=str(MAX_NOTE))
        return not self.errors


def _message(name: str, error: ErrorDetails) -> str:
    shared = schema_message(FIELD_BY_NAME, name, error)
    if shared is not None:
        return shared
    if name == "body":
        return gettext("Der Text ist zu lang (höchstens 200 KB).")
    if name == "tags":
        return gettext("Bitte prüfen Sie die Schlagworte: höchstens 20, je höchstens 40 Zeichen.")
    return gettext("Bitte prüfen Sie diese Angabe.")


@dataclass
class Preview:
    title: str
    summary: str
    html: str
    toc: list[Any]


def preview_of(form: GuideForm) -> Preview | None:
    """The typed guide as the published page will show it (the same safe renderer)."""
    try:
        rendered = markdown.render(form.payload()["body"], max_bytes=markdown.KNOWLEDGE_MAX_BYTES)
    except markdown.MarkdownTooLarge:
        form.errors.setdefault("body", gettext("Der Text ist zu lang (höchstens 200 KB)."))
        return None
    payload = form.payload()
    return Preview(title=payload["title"], summary=payload["summary"], html=rendered.html, toc=rendered.toc)


def diff_lines(old: str, new: str, from_label: str, to_label: str) -> list[tuple[str, str]]:
    """A unified diff of two Markdown texts as (kind, text) lines: hunk, del, add, ctx."""
    return parse_unified(
        "\n".join(difflib.unified_diff(old.splitlines(), new.splitlines(), from_label, to_label, lineterm=""))
    )


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def parse_unified(text: str) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line.startswith(("---", "+++")):
            continue
        hunk = _HUNK.match(line)
        if hunk:
            lines.append(("hunk", gettext("Ab Zeile %(line)s", line=hunk.group(2))))
        elif line.startswith("-"):
            lines.append(("del", line[1:]))
        elif line.startswith("+"):
            lines.append(("add", line[1:]))
        else:
            lines.append(("ctx", line[1:] if line.startswith(" ") else line))
    return lines


def shown(vocab: Vocabularies, name: str, value: Any) -> str:
    """A guide field's value as a person reads it."""
    if value in (None, "", []):
        return gettext("keine Angabe")
    if name == "stage":
        return gettext("Stufe %(n)s", n=value) + ": " + vocab.label("stages", str(value))
    if name == "step":
        return vocab.label("steps", str(value))
    if name == "tags":
        return ", ".join(value)
    return str(value)


def _may_write(viewer: Viewer) -> bool:
    return viewer.is_moderator or bool(viewer.editor_orgs)


def _etag(guide: Guide, version: str) -> str:
    return etag(guide.uuid, version.strip())


def _form_page(
    viewer: Viewer,
    vocab: Vocabularies,
    form: GuideForm,
    *,
    mode: str,
    status: int = 200,
    guide: Guide | None = None,
    version: int | None = None,
    author: str = "",
    preview: Preview | None = None,
    stale: dict[str, Any] | None = None,
) -> Any:
    authors = [(m.organization.slug, m.organization.name) for m in viewer.editor_orgs]
    return page(
        "knowledge/guide_form.html",
        {
            "viewer": viewer,
            "vocab": vocab,
            "form": form,
            "fields": FIELD_BY_NAME,
            "mode": mode,
            "guide": guide,
            "version": version,
            "author": author,
            "authors": authors,
            "platform_author": viewer.is_moderator,
            "preview": preview,
            "stale": stale,
        },
        status=status,
    )


def _no_writer(viewer: Viewer) -> Any:
    return forbidden(
        viewer,
        gettext("Leitfäden schreiben die Moderation und Redakteurinnen und Redakteure der beteiligten Organisationen."),
    )


def _not_editor(viewer: Viewer) -> Any:
    return forbidden(
        viewer,
        gettext(
            "Diesen Leitfaden können die Moderation und die Redakteurinnen und Redakteure "
            "der herausgebenden Organisation ändern."
        ),
    )


@get("/leitfaeden/neu", name="web:guide-new")
async def new_guide(request: AnyRequest, db_session: Session, viewer: Who) -> Any:
    if not _may_write(viewer):
        return _no_writer(viewer)
    author = viewer.editor_orgs[0].organization.slug if len(viewer.editor_orgs) == 1 else ""
    return _form_page(viewer, await load_vocabularies(db_session), GuideForm.empty(), mode="create", author=author)


@post("/leitfaeden/neu", name="web:guide-create", status_code=200)
async def create_guide(request: AnyRequest, db_session: Session, principal: Caller, viewer: Who) -> Any:
    if not _may_write(viewer):
        return _no_writer(viewer)
    raw = await request.form()
    vocab = await load_vocabularies(db_session)
    form = GuideForm.from_post(raw)
    author = str(raw.get("author") or "")
    allowed = {m.organization.slug for m in viewer.editor_orgs}
    form.validate(vocab)
    if author not in allowed and not (viewer.is_moderator and author == ""):
        form.errors["author"] = gettext("Bitte wählen Sie die herausgebende Organisation.")
    if raw.get("aktion") == "vorschau":
        preview = preview_of(form)
        return _form_page(viewer, vocab, form, mode="create", author=author, preview=preview)
    if not form.errors:
        slug = slugify(form.payload()["title"])
        if slug in RESERVED_SLUGS:
            slug = f"leitfaden-{slug}"
        try:
            guide = await knowledge.create_guide(
                db_session,
                principal,
                GuideCreate.model_validate(
                    {**form.payload(), "slug": slug, "author_organization": author or None, "note": form.note}
                ),
            )
            return redirect(f"/leitfaeden/{guide.slug}", "guide-created")
        except Conflict:
            form.errors["title"] = gettext(
                "Es gibt schon einen Leitfaden mit diesem Titel. Bitte wählen Sie einen anderen Titel."
            )
        except Forbidden:
            form.errors["author"] = gettext("Für diese Organisation dürfen Sie keine Leitfäden schreiben.")
        except (InvalidInput, NotFound) as problem:
            _service_error(form, problem)
    return _form_page(viewer, vocab, form, mode="create", status=422, author=author)


def _service_error(form: GuideForm, problem: Problem) -> None:
    name = (problem.field or "").split(".")[0]
    if name in FIELD_BY_NAME:
        form.errors[name] = gettext("Bitte prüfen Sie diese Angabe.")
    else:
        form.errors["_form"] = gettext(
            "Der Leitfaden konnte nicht gespeichert werden: %(detail)s", detail=problem.detail
        )


async def _editable(db_session: Any, principal: Any, viewer: Viewer, slug: str) -> Guide | Any:
    """The guide, or the page to answer instead (404 for unknown ones, 403 for other people's)."""
    try:
        guide = await knowledge.get_guide(db_session, principal, slug[:100])
    except NotFound:
        return guide_missing(viewer, slug)
    if not policies.may_edit_guide(principal, guide):
        return _not_editor(viewer)
    return guide


@get("/leitfaeden/{slug:str}/bearbeiten", name="web:guide-edit")
async def edit_guide(
    request: AnyRequest, slug: FromPath[str], db_session: Session, principal: Caller, viewer: Who
) -> Any:
    guide = await _editable(db_session, principal, viewer, slug)
    if not isinstance(guide, Guide):
        return guide
    return _form_page(
        viewer,
        await load_vocabularies(db_session),
        GuideForm.from_guide(guide),
        mode="edit",
        guide=guide,
        version=guide.version,
    )


@post("/leitfaeden/{slug:str}/bearbeiten", name="web:guide-update", status_code=200)
async def update_guide(
    request: AnyRequest, slug: FromPath[str], db_session: Session, principal: Caller, viewer: Who
) -> Any:
    guide = await _editable(db_session, principal, viewer, slug)
    if not isinstance(guide, Guide):
        return guide
    raw = await request.form()
    version = str(raw.get("version") or "")[:20]
    vocab = await load_vocabularies(db_session)
    form = GuideForm.from_post(raw)
    shown_version = small_number(version) or guide.version
    if raw.get("aktion") == "vorschau":
        form.validate(vocab)
        return _form_page(
            viewer, vocab, form, mode="edit", guide=guide, version=shown_version, preview=preview_of(form)
        )
    stale = None
    if form.validate(vocab):
        stored = {name: getattr(guide, name) for name in CONTENT}
        try:
            await knowledge.update_guide(
                db_session, principal, guide, {**form.payload(), "note": form.note}, _etag(guide, version)
            )
            return redirect(f"/leitfaeden/{guide.slug}", "guide-saved")
        except PreconditionFailed:
            stale = _stale(vocab, guide, stored, form.payload())
            shown_version = guide.version
        except Forbidden:
            return _not_editor(viewer)
        except (InvalidInput, NotFound) as problem:
            _service_error(form, problem)
    return _form_page(
        viewer,
        vocab,
        form,
        mode="edit",
        status=409 if stale else 422,
        guide=guide,
        version=shown_version,
        stale=stale,
    )


def _stale(vocab: Vocabularies, guide: Guide, stored: dict[str, Any], typed: dict[str, Any]) -> dict[str, Any]:
    rows = [
        (gettext(FIELD_BY_NAME[name].label), shown(vocab, name, stored[name]), shown(vocab, name, typed[name]))
        for name in CONTENT
        if name != "body" and stored[name] != typed[name]
    ]
    body = (
        diff_lines(stored["body"], typed["body"], gettext("Gespeicherte Fassung"), gettext("Ihre Eingabe"))
        if stored["body"] != typed["body"]
        else []
    )
    return {
        "version": guide.version,
        "revision": guide.revision,
        "updated_at": guide.updated_at,
        "rows": rows,
        "body": body,
    }


@dataclass
class Comparison:
    old: RevisionOut
    new: RevisionOut
    rows: list[tuple[str, str, str]]
    body: list[tuple[str, str]]


@get("/leitfaeden/{slug:str}/versionen", name="web:guide-history")
async def history(request: AnyRequest, slug: FromPath[str], db_session: Session, principal: Caller, viewer: Who) -> Any:
    try:
        guide = await knowledge.get_guide(db_session, principal, slug[:100])
    except NotFound:
        return guide_missing(viewer, slug)
    vocab = await load_vocabularies(db_session)
    revisions = await knowledge.revisions(db_session, guide)
    numbers = [r.number for r in revisions]
    messages: list[str] = []
    params = request.query_params
    wanted_from, wanted_to = (params.get("von") or "").strip(), (params.get("bis") or "").strip()
    pair: tuple[int, int] | None = (numbers[1], numbers[0]) if len(numbers) > 1 else None
    if wanted_from or wanted_to:
        if small_number(wanted_from) in numbers and small_number(wanted_to) in numbers:
            pair = (int(wanted_from), int(wanted_to))  # checked by small_number above
        else:
            messages.append(
                gettext("Diese Versionen gibt es nicht. Gezeigt wird der Unterschied der beiden neuesten Versionen.")
            )
    comparison = None
    if pair is not None:
        result = await knowledge.diff(db_session, guide, pair[0], pair[1])
        by_number = {r.number: r for r in revisions}
        comparison = Comparison(
            old=by_number[pair[0]],
            new=by_number[pair[1]],
            rows=[
                (
                    gettext(FIELD_BY_NAME[name].label),
                    shown(vocab, name, change["from"]),
                    shown(vocab, name, change["to"]),
                )
                for name, change in result.fields.items()
                if name in FIELD_BY_NAME
            ],
            body=parse_unified(result.body_diff),
        )
    return page(
        "knowledge/guide_history.html",
        {
            "viewer": viewer,
            "guide": guide,
            "revisions": revisions,
            "comparison": comparison,
            "pair": pair,
            "messages": messages,
            "can_edit": policies.may_edit_guide(principal, guide),
        },
    )


@post(
    "/leitfaeden/{slug:str}/versionen/{number:int}/wiederherstellen",
    name="web:guide-restore",
    status_code=303,
)
async def restore(
    request: AnyRequest,
    slug: FromPath[str],
    number: PositiveNumber,
    db_session: Session,
    principal: Caller,
    viewer: Who,
) -> Any:
    guide = await _editable(db_session, principal, viewer, slug)
    if not isinstance(guide, Guide):
        return guide
    form = await request.form()
    back = f"/leitfaeden/{guide.slug}/versionen"
    try:
        await knowledge.restore(db_session, principal, guide, number, etag(guide.uuid, str(form.get("version") or "")))
    except PreconditionFailed:
        return redirect(back, "guide-stale")
    except NotFound:
        return not_found(
            viewer,
            gettext("Diese Version des Leitfadens gibt es nicht."),
            links=[(back, gettext("Versionsgeschichte"))],
        )
    return redirect(back, "guide-restored")


@post("/leitfaeden/{slug:str}/veroeffentlichen", name="web:guide-publish", status_code=303)
async def publish(request: AnyRequest, slug: FromPath[str], db_session: Session, principal: Caller, viewer: Who) -> Any:
    if not policies.may_publish_guide(principal):
        return forbidden(viewer, gettext("Leitfäden veröffentlicht die Moderation."))
    try:
        guide = await knowledge.get_guide(db_session, principal, slug[:100])
    except NotFound:
        return guide_missing(viewer, slug)
    form = await request.form()
    try:
        await knowledge.publish_guide(db_session, principal, guide, etag(guide.uuid, str(form.get("version") or "")))
    except PreconditionFailed:
        return redirect(f"/leitfaeden/{guide.slug}", "guide-stale")
    except Conflict:
        return redirect(f"/leitfaeden/{guide.slug}", "wrong-state")
    return redirect(f"/leitfaeden/{guide.slug}", "guide-published")


ROUTES = [history]
SIGNED_IN = [new_guide, create_guide, edit_guide, update_guide, restore, publish]

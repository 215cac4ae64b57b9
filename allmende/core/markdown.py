"""Safe, rich Markdown for user content: solution descriptions (catalog) and the knowledge hub.

One renderer, built once at import and shared by every caller; it keeps no state between calls, so
threads and tasks may use it at the same time. Two layers keep script out of the page:

1. markdown-it-py with raw HTML **off** (``<script>`` in the source is shown as text), a strict link
   allow-list (``http``, ``https``, ``mailto`` and relative links; anything else stays plain text)
   and a rule that turns every image whose source is not ``http(s)`` into its alt text.
2. nh3 (ammonia) with an explicit allow-list of exactly the tags and attributes this renderer
   produces, so even a renderer bug cannot emit an element or attribute that runs script.

Supported: CommonMark, tables, strikethrough, bare-URL linkify, footnotes, task lists and heading ids
with the fixed prefix ``h-`` (``## Ausgangslage`` → ``id="h-ausgangslage"``), from which a table of
contents (h2 and h3) is built. External (absolute ``http(s)``) links get ``rel="noopener nofollow"``;
no link gets a ``target``.

``Rendered.text`` and :func:`to_plain_text` return plain, *unescaped* text for search indexing and
snippets: whatever displays it must escape it (Jinja's autoescape does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import unescape
from typing import Final
from urllib.parse import unquote

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

from allmende.core.text import slugify

__all__ = [
    "ANCHOR_PREFIX",
    "CATALOG_MAX_BYTES",
    "KNOWLEDGE_MAX_BYTES",
    "MarkdownTooLarge",
    "Rendered",
    "TocEntry",
    "check_size",
    "render",
    "sanitize",
    "to_plain_text",
]

CATALOG_MAX_BYTES: Final = 100_000
"""Size limit for solution descriptions (UTF-8 bytes of the Markdown source)."""
KNOWLEDGE_MAX_BYTES: Final = 200_000
"""Size limit for case studies and guides (UTF-8 bytes of the Markdown source)."""

ANCHOR_PREFIX: Final = "h-"
"""Every heading id starts with this, so user content cannot collide with the page's own ids."""
TOC_LEVELS: Final = frozenset({2, 3})

LINK_SCHEMES: Final = frozenset({"http", "https", "mailto"})
"""Schemes a link may use; relative links (``/pfad``, ``#anker``, ``?q=1``, ``seite``) are allowed too."""
IMAGE_SCHEMES: Final = frozenset({"http", "https"})
"""Schemes an image may use; nothing else (no relative, ``data:`` or ``javascript:`` images)."""
EXTERNAL_REL: Final = "noopener nofollow"


class MarkdownTooLarge(ValueError):
    """The Markdown source is larger than the caller's limit."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(f"Markdown text is too large: {size} bytes, the limit is {max_bytes} bytes")
        self.size = size
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class TocEntry:
    level: int
    text: str
    anchor: str


@dataclass(frozen=True)
class Rendered:
    html: str
    toc: list[TocEntry]
    text: str
    """Plain text (not escaped) for search indexing and snippets."""


def check_size(source: str, max_bytes: int) -> None:
    """Raise :class:`MarkdownTooLarge` when ``source`` is more than ``max_bytes`` UTF-8 bytes."""
    if len(source) * 4 <= max_bytes:  # no encoding needed: a character is at most 4 bytes
        return
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise MarkdownTooLarge(size, max_bytes)


def render(source: str, *, max_bytes: int = KNOWLEDGE_MAX_BYTES) -> Rendered:
    """Render untrusted Markdown to sanitized HTML, with its table of contents and plain text."""
    check_size(source, max_bytes)
    env: dict[str, object] = {}
    tokens = _MD.parse(source, env)
    html = sanitize(_MD.renderer.render(tokens, _MD.options, env))
    toc = env.get(_TOC_KEY)
    return Rendered(html=html, toc=list(toc) if isinstance(toc, list) else [], text=_plain_text(tokens))


def to_plain_text(source: str, *, max_bytes: int = KNOWLEDGE_MAX_BYTES) -> str:
    """The text of a Markdown document without markup, one line per block (for search and snippets)."""
    check_size(source, max_bytes)
    return _plain_text(_MD.parse(source, {}))


def sanitize(html: str) -> str:
    """The second layer on its own: keep only the elements and attributes this renderer produces.

    ``render`` already applies it; it is public so tests (and callers holding HTML from elsewhere)
    can use exactly the same allow-list.
    """
    return _CLEANER.clean(html)


# --- URLs -------------------------------------------------------------------------------------------

_SCHEME_RE: Final = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
# ASCII control characters, space, DEL, C1 controls and every Unicode space or format character a
# browser might ignore inside a scheme.
_INVISIBLE_RE: Final = re.compile(r"[\x00-\x20\x7f-\x9f\s\u00ad\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]")


def _classify(url: str) -> str | None:
    """``"relative"``, the allowed scheme in lower case, or ``None`` for a refused URL."""
    if not url or _INVISIBLE_RE.search(url):
        return None
    kind = _classify_compact(url)
    # Judge the decoded forms too: whatever a browser or a later step might decode must pass as well.
    for variant in (unquote(url), unescape(url), unescape(unquote(url))):
        compact = _INVISIBLE_RE.sub("", variant)
        if compact != url and _classify_compact(compact) is None:
            return None
    return kind


def _classify_compact(url: str) -> str | None:
    if "\\" in url:
        return None
    if match := _SCHEME_RE.match(url):
        scheme = match.group(1).lower()
        rest = url[match.end() :]
        if scheme in ("http", "https"):
            return scheme if re.match(r"//[^/?#]", rest) else None
        if scheme == "mailto":
            return scheme if rest else None
        return None
    if url.startswith("//"):  # protocol-relative: another host without a scheme we can see
        return None
    first_segment = re.split(r"[/?#]", url, maxsplit=1)[0]
    if ":" in first_segment:  # looks like a scheme a browser could still honour
        return None
    return "relative"


def _is_link_url(url: str) -> bool:
    kind = _classify(url)
    return kind is not None and (kind == "relative" or kind in LINK_SCHEMES)


def _is_image_url(url: str) -> bool:
    return _classify(url) in IMAGE_SCHEMES


def _is_external(url: str) -> bool:
    return _classify(url) in ("http", "https")


# --- the renderer -----------------------------------------------------------------------------------

_TOC_KEY: Final = "allmende_toc"


class _SafeMarkdownIt(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        """Strict allow-list: anything refused here is rendered as plain text, not as a link."""
        return _is_link_url(url)


def _inline_text(tokens: Iterable[Token] | None) -> str:
    out: list[str] = []
    for token in tokens or ():
        if token.type in ("text", "code_inline"):
            out.append(token.content)
        elif token.type == "image":
            out.append(_inline_text(token.children))
        elif token.type in ("softbreak", "hardbreak"):
            out.append(" ")
    return " ".join("".join(out).split())


def _anchors_rule(state: StateCore) -> None:
    """Prefixed, German-aware, unique heading ids; h2 and h3 form the table of contents."""
    used: set[str] = set()
    next_suffix: dict[str, int] = {}  # per base slug: where to resume, so many repeats stay linear
    toc: list[TocEntry] = []
    tokens = state.tokens
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        text = _inline_text(tokens[index + 1].children)
        base = ANCHOR_PREFIX + slugify(text)
        anchor, counter = base, next_suffix.get(base, 1)
        if counter > 1:
            anchor = f"{base}-{counter}"
        while anchor in used:
            counter += 1
            anchor = f"{base}-{counter}"
        next_suffix[base] = counter
        used.add(anchor)
        token.attrSet("id", anchor)
        level = int(token.tag[1])
        if level in TOC_LEVELS:
            toc.append(TocEntry(level=level, text=text, anchor=anchor))
    state.env[_TOC_KEY] = toc


def _safety_rule(state: StateCore) -> None:
    """Mark external links, drop images from non-http(s) sources, move table alignment to a class."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open"):
            style = str(token.attrs.pop("style", ""))
            if align := re.fullmatch(r"text-align:(left|center|right)", style):
                token.attrSet("class", f"align-{align.group(1)}")
        elif token.type == "inline" and token.children:
            token.children = _safe_inline(token.children)


def _safe_inline(children: Sequence[Token]) -> list[Token]:
    out: list[Token] = []
    for token in children:
        if token.type == "image":
            if not _is_image_url(str(token.attrGet("src") or "")):
                out.append(Token("text", "", 0, level=token.level, content=_inline_text(token.children)))
                continue
        elif token.type == "link_open":
            href = str(token.attrGet("href") or "")
            token.attrs.pop("target", None)
            token.attrs.pop("rel", None)
            if not _is_link_url(href):  # validateLink let nothing else through; be sure anyway
                token.attrs.pop("href", None)
            elif _is_external(href):
                token.attrSet("rel", EXTERNAL_REL)
        out.append(token)
    return out


def _build() -> MarkdownIt:
    md = _SafeMarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False, "xhtmlOut": False})
    md.enable(["table", "strikethrough", "linkify"])
    md.use(footnote_plugin)
    md.use(tasklists_plugin)  # checkboxes are rendered disabled
    md.core.ruler.push("allmende_anchors", _anchors_rule)
    md.core.ruler.push("allmende_safety", _safety_rule)
    return md


_MD: Final = _build()


# --- plain text ---------------------------------------------------------------------------------------


def _plain_text(tokens: Sequence[Token]) -> str:
    lines: list[str] = []
    for token in tokens:
        if token.type == "inline":
            line = _inline_text(token.children)
        elif token.type in ("fence", "code_block"):
            line = " ".join(token.content.split())
        else:
            continue
        if line:
            lines.append(line)
    return "\n".join(lines)


# --- the sanitizer --------------------------------------------------------------------------------------

_HEADINGS: Final = ("h1", "h2", "h3", "h4", "h5", "h6")

ALLOWED_TAGS: Final = frozenset(
    {
        *_HEADINGS,
        *("p", "br", "hr", "blockquote", "pre", "code", "em", "strong", "s", "a", "img", "sup"),
        *("ul", "ol", "li", "input", "section"),
        *("table", "thead", "tbody", "tr", "th", "td"),
    }
)
"""Exactly the elements this renderer produces."""

ALLOWED_ATTRIBUTES: Final[dict[str, frozenset[str]]] = {
    **{heading: frozenset({"id"}) for heading in _HEADINGS},
    "a": frozenset({"href", "title", "id", "class"}),  # id, class: footnote references and back links
    "img": frozenset({"src", "alt", "title"}),
    "ol": frozenset({"start", "class"}),
    "ul": frozenset({"class"}),
    "li": frozenset({"id", "class"}),
    "input": frozenset({"class"}),  # type, checked and disabled: see _ALLOWED_VALUES
    "code": frozenset({"class"}),
    "section": frozenset({"class"}),
    "hr": frozenset({"class"}),
    "sup": frozenset({"class"}),
    "th": frozenset({"class"}),
    "td": frozenset({"class"}),
}
"""Attributes allowed per element; values are checked further in ``_attribute_filter``."""

_ALLOWED_VALUES: Final = {
    "a": {"rel": {EXTERNAL_REL}},
    "input": {"type": {"checkbox"}, "checked": {"checked", ""}, "disabled": {"disabled", ""}},
}

_ALLOWED_CLASSES: Final[dict[str, frozenset[str]]] = {
    "a": frozenset({"footnote-backref"}),
    "ol": frozenset({"footnotes-list"}),
    "ul": frozenset({"contains-task-list"}),
    "li": frozenset({"footnote-item", "task-list-item"}),
    "input": frozenset({"task-list-item-checkbox"}),
    "section": frozenset({"footnotes"}),
    "hr": frozenset({"footnotes-sep"}),
    "sup": frozenset({"footnote-ref"}),
    "th": frozenset({"align-left", "align-center", "align-right"}),
    "td": frozenset({"align-left", "align-center", "align-right"}),
}
_CODE_CLASS_RE: Final = re.compile(r"language-[A-Za-z0-9_+#.\-]{1,40}")
_ID_RE: Final[dict[str, re.Pattern[str]]] = {
    **{heading: re.compile(re.escape(ANCHOR_PREFIX) + r"[a-z0-9]+(?:-[a-z0-9]+)*") for heading in _HEADINGS},
    "li": re.compile(r"fn[0-9]+"),
    "a": re.compile(r"fnref[0-9]+(?::[0-9]+)?"),
}


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href":
        return value if _is_link_url(value) else None
    if attribute == "src":
        return value if _is_image_url(value) else None
    if attribute == "id":
        pattern = _ID_RE.get(tag)
        return value if pattern is not None and pattern.fullmatch(value) else None
    if attribute == "class":
        if tag == "code":
            return value if _CODE_CLASS_RE.fullmatch(value) else None
        allowed = _ALLOWED_CLASSES.get(tag, frozenset())
        kept = [name for name in value.split() if name in allowed]
        return " ".join(kept) or None
    if attribute == "start":
        return value if value.isdigit() and len(value) <= 9 else None
    return value


_CLEANER: Final = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math"},
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    tag_attribute_values={
        tag: {name: set(values) for name, values in attrs.items()} for tag, attrs in _ALLOWED_VALUES.items()
    },
    set_tag_attribute_values={"input": {"disabled": "disabled"}},
    attribute_filter=_attribute_filter,
    url_schemes=set(LINK_SCHEMES),
    link_rel=None,
    strip_comments=True,
    generic_attribute_prefixes=set(),
)

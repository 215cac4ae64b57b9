"""The safe Markdown renderer shared by the catalog and the knowledge hub."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from allmende.core.markdown import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    CATALOG_MAX_BYTES,
    KNOWLEDGE_MAX_BYTES,
    MarkdownTooLarge,
    Rendered,
    TocEntry,
    check_size,
    render,
    sanitize,
    to_plain_text,
)

# --- parsing the output -------------------------------------------------------------------------------


class _Element:
    def __init__(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tag = tag
        self.attrs = attrs

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.attrs if key == name), None)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[_Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(_Element(tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(_Element(tag, attrs))


def elements(html: str) -> list[_Element]:
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser.elements


def find(html: str, tag: str) -> list[_Element]:
    return [element for element in elements(html) if element.tag == tag]


# --- what the XSS tests check -----------------------------------------------------------------------

FORBIDDEN_ELEMENTS = {"script", "iframe", "object", "embed", "style", "meta", "base", "form", "svg", "math"}
INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\s\u00ad\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]")
SAFE_URL = re.compile(r"(?:https?://[^/?#]|mailto:.|#|\?|/(?![/\\])|[^:/?#\\]+(?:[/?#]|$))", re.IGNORECASE)


def normalised_url(value: str) -> str:
    """How a browser might read an attribute value: entity-decoded (again) and without invisibles."""
    previous = None
    while previous != value:
        previous, value = value, unescape(value)
    return INVISIBLE.sub("", value)


def assert_safe_html(html: str) -> None:
    found = elements(html)
    tags = {element.tag for element in found}
    assert not tags & FORBIDDEN_ELEMENTS, html
    assert tags <= ALLOWED_TAGS, html
    for element in found:
        for name, value in element.attrs:
            assert not name.startswith("on"), html
            assert name != "style", html
            assert name in ALLOWED_ATTRIBUTES.get(element.tag, frozenset()) | {"rel", "type", "checked", "disabled"}
            if name in ("href", "src"):
                url = normalised_url(value or "")
                assert url and SAFE_URL.match(url), f"unsafe {name}={value!r} in {html}"
                assert not re.match(r"(?:javascript|vbscript|data|file):", url, re.IGNORECASE), html


def load_payloads() -> list[tuple[str, str]]:
    text = (Path(__file__).parent / "xss_payloads.txt").read_text(encoding="utf-8")
    payloads: list[tuple[str, list[str]]] = []
    for line in text.split("\n"):
        if line.startswith("%% "):
            payloads.append((line[3:].strip(), []))
        elif payloads:
            payloads[-1][1].append(line)

    def decode(body: str) -> str:
        escape = r"\\x([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})"
        return re.sub(escape, lambda m: chr(int(m.group(1) or m.group(2), 16)), body)

    return [(name, decode("\n".join(lines).rstrip("\n"))) for name, lines in payloads]


PAYLOADS = load_payloads()


def test_payload_corpus_is_large_and_distinct() -> None:
    names = [name for name, _ in PAYLOADS]
    bodies = [body for _, body in PAYLOADS]
    assert len(PAYLOADS) >= 60
    assert len(set(names)) == len(names)
    assert len(set(bodies)) == len(bodies)
    assert all(bodies)
    assert "\x00" in "".join(bodies) and "\t" in "".join(bodies)  # the escapes are decoded


@pytest.mark.parametrize("payload", [pytest.param(body, id=name) for name, body in PAYLOADS])
def test_xss_payload_renders_harmless(payload: str) -> None:
    result = render(payload)
    assert_safe_html(result.html)
    for entry in result.toc:
        assert entry.anchor.startswith("h-")


@pytest.mark.parametrize("payload", [pytest.param(body, id=name) for name, body in PAYLOADS])
def test_sanitizer_alone_stops_payload_even_with_raw_html_on(payload: str) -> None:
    """Defence in depth: if the renderer passed raw HTML through, the sanitizer would still hold."""
    unsafe = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(payload)
    assert_safe_html(sanitize(unsafe))


# --- features -----------------------------------------------------------------------------------------


def test_table() -> None:
    html = render("| Kommune | Einwohner |\n| :-- | --: |\n| Musterstadt | 12000 |").html
    assert [element.tag for element in elements(html)][:4] == ["table", "thead", "tr", "th"]
    cells = find(html, "td")
    assert [cell.get("class") for cell in cells] == ["align-left", "align-right"]
    assert "Musterstadt" in html


def test_strikethrough() -> None:
    assert "<s>alt</s>" in render("~~alt~~ neu").html


def test_footnote() -> None:
    html = render("Quelle[^1].\n\n[^1]: Stufenplan 2024.").html
    ref = find(html, "sup")[0]
    assert ref.get("class") == "footnote-ref"
    links = {element.get("href"): element for element in find(html, "a")}
    assert links["#fn1"].get("id") == "fnref1"
    assert links["#fnref1"].get("class") == "footnote-backref"
    item = find(html, "li")[0]
    assert (item.get("id"), item.get("class")) == ("fn1", "footnote-item")
    assert find(html, "section")[0].get("class") == "footnotes"


def test_task_list_renders_disabled_checkboxes() -> None:
    html = render("- [ ] offen\n- [x] erledigt\n- normal").html
    boxes = find(html, "input")
    assert len(boxes) == 2
    for box in boxes:
        assert box.get("type") == "checkbox"
        assert box.get("disabled") is not None
    assert boxes[0].get("checked") is None
    assert boxes[1].get("checked") is not None
    assert find(html, "ul")[0].get("class") == "contains-task-list"
    assert [li.get("class") for li in find(html, "li")] == ["task-list-item", "task-list-item", None]


def test_linkify_bare_https_url() -> None:
    html = render("Siehe https://www.smart-city-dialog.de/stufenplan für Details.").html
    (link,) = find(html, "a")
    assert link.get("href") == "https://www.smart-city-dialog.de/stufenplan"
    assert link.get("rel") == "noopener nofollow"


def test_linkify_does_not_link_other_schemes() -> None:
    html = render("ftp://example.org und //example.org").html
    assert find(html, "a") == []


def test_heading_anchors_have_prefix_and_are_unique() -> None:
    html = render("# Ausgangslage\n\n## Ausgangslage\n\n## Ausgangslage\n\n### Ausgangslage 2\n\n## Ausgangslage").html
    ids = [element.get("id") for element in elements(html) if element.tag in ("h1", "h2", "h3")]
    assert ids == ["h-ausgangslage", "h-ausgangslage-2", "h-ausgangslage-3", "h-ausgangslage-2-2", "h-ausgangslage-4"]


def test_heading_anchor_cannot_be_chosen_by_the_author() -> None:
    html = render("## main\n\n## {#content}\n\n## ").html
    ids = [element.get("id") for element in elements(html) if element.tag == "h2"]
    assert ids == ["h-main", "h-content", "h-eintrag"]


def test_german_umlauts_in_anchors() -> None:
    result = render("## Größe & Maße\n\n## Bürgerbeteiligung für Straßen\n\n## ÄÖÜ")
    assert [entry.anchor for entry in result.toc] == [
        "h-groesse-masse",
        "h-buergerbeteiligung-fuer-strassen",
        "h-aeoeue",
    ]


def test_toc_contains_h2_and_h3_with_text() -> None:
    source = (
        "# Fallstudie\n\n## Ausgangslage\n\nText\n\n### Ziele der *Kommune*\n\n#### Detail\n\n"
        "## Umsetzung mit `Python`\n\n## Ausgangslage"
    )
    assert render(source).toc == [
        TocEntry(level=2, text="Ausgangslage", anchor="h-ausgangslage"),
        TocEntry(level=3, text="Ziele der Kommune", anchor="h-ziele-der-kommune"),
        TocEntry(level=2, text="Umsetzung mit Python", anchor="h-umsetzung-mit-python"),
        TocEntry(level=2, text="Ausgangslage", anchor="h-ausgangslage-2"),
    ]


def test_plain_text_extraction() -> None:
    source = (
        "# Titel\n\nEin **fetter** und *kursiver* [Link](https://example.org) mit `code`.\n\n"
        "- [x] erledigt\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<b>roh</b>\n\n"
        "![Bild](https://example.org/a.png)\n\n```\nprint(1)\n```"
    )
    expected = "Titel\nEin fetter und kursiver Link mit code.\nerledigt\na\nb\n1\n2\n<b>roh</b>\nBild\nprint(1)"
    assert to_plain_text(source) == expected
    assert render(source).text == expected


def test_render_returns_rendered() -> None:
    result = render("Hallo *Welt*")
    assert isinstance(result, Rendered)
    assert result.html == "<p>Hallo <em>Welt</em></p>\n"
    assert result.toc == []
    assert result.text == "Hallo Welt"


def test_empty_source() -> None:
    assert render("") == Rendered(html="", toc=[], text="")


# --- links ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "href", "rel"),
    [
        ("[a](http://example.org)", "http://example.org", "noopener nofollow"),
        ("[a](https://example.org/pfad?q=1#x)", "https://example.org/pfad?q=1#x", "noopener nofollow"),
        ("[a](HTTPS://example.org)", "HTTPS://example.org", "noopener nofollow"),
        ("<https://example.org>", "https://example.org", "noopener nofollow"),
        ("[a](mailto:info@example.org)", "mailto:info@example.org", None),
        ("<info@example.org>", "mailto:info@example.org", None),
        ("[a](/loesungen/buergerportal)", "/loesungen/buergerportal", None),
        ("[a](#h-ausgangslage)", "#h-ausgangslage", None),
        ("[a](leitfaden/teil-2)", "leitfaden/teil-2", None),
        ("[a](../oben)", "../oben", None),
        ("[a](?seite=2)", "?seite=2", None),
        ("[a][r]\n\n[r]: https://example.org/ref", "https://example.org/ref", "noopener nofollow"),
    ],
)
def test_allowed_links(source: str, href: str, rel: str | None) -> None:
    (link,) = find(render(source).html, "a")
    assert link.get("href") == href
    assert link.get("rel") == rel
    assert link.get("target") is None


@pytest.mark.parametrize(
    "source",
    [
        "[a](javascript:alert(1))",
        "[a](vbscript:msgbox(1))",
        "[a](data:text/html;base64,PHNjcmlwdD4=)",
        "[a](file:///etc/passwd)",
        "[a](JaVaScRiPt:alert(1))",
        "[a](<java\tscript:alert(1)>)",
        "[a](java&#9;script:alert(1))",
        "[a](&#106;avascript:alert(1))",
        "[a](&#x6A;avascript:alert(1))",
        "<javascript:alert(1)>",
        "[a][r]\n\n[r]: javascript:alert(1)",
        "[a](//evil.example)",
        "[a](ftp://example.org)",
        "[a](tel:+49301234)",
    ],
)
def test_refused_links_have_no_href(source: str) -> None:
    html = render(source).html
    assert all(link.get("href") is None for link in find(html, "a")), html
    assert find(html, "a") == []  # rendered as plain text, not as a link


def test_refused_link_stays_visible_as_text() -> None:
    assert render("[Klick](javascript:alert(1))").text == "[Klick](javascript:alert(1))"


def test_link_title_cannot_break_out_of_the_attribute() -> None:
    (link,) = find(render('[a](https://x.org "\\" onmouseover=\\"alert(1)")').html, "a")
    assert [name for name, _ in link.attrs] == ["href", "title", "rel"]
    assert link.get("title") == '" onmouseover="alert(1)'


# --- images ---------------------------------------------------------------------------------------------


def test_https_image_allowed() -> None:
    (image,) = find(render('![Rathaus](https://example.org/rathaus.png "Titel")').html, "img")
    assert image.get("src") == "https://example.org/rathaus.png"
    assert image.get("alt") == "Rathaus"
    assert image.get("title") == "Titel"


@pytest.mark.parametrize(
    "source",
    [
        "![Rathaus](data:image/png;base64,iVBORw0KGgo=)",
        "![Rathaus](javascript:alert(1))",
        "![Rathaus](/uploads/rathaus.png)",
        "![Rathaus](rathaus.png)",
        "![Rathaus](//evil.example/rathaus.png)",
        "![Rathaus](mailto:a@example.org)",
    ],
)
def test_refused_images(source: str) -> None:
    result = render(source)
    assert find(result.html, "img") == []
    assert "Rathaus" in result.text


def test_relative_image_becomes_its_alt_text() -> None:
    assert render("![Karte der *Region*](/karte.png)").html == "<p>Karte der Region</p>\n"


# --- raw HTML -------------------------------------------------------------------------------------------


def test_raw_html_is_escaped_text() -> None:
    result = render('<b onclick="x()">fett</b>\n\n<div>\n<script>alert(1)</script>\n</div>')
    assert find(result.html, "b") == [] and find(result.html, "div") == [] and find(result.html, "script") == []
    assert "&lt;b onclick=" in result.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in result.html
    assert unescape(re.sub(r"</?p>", "", result.html)).split("\n")[0] == '<b onclick="x()">fett</b>'


def test_code_blocks_keep_language_class_only() -> None:
    (code,) = find(render('```python onclick="x"\nprint(1)\n```').html, "code")
    assert code.attrs == [("class", "language-python")]


# --- size limit -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [CATALOG_MAX_BYTES, KNOWLEDGE_MAX_BYTES])
def test_size_limit(limit: int) -> None:
    assert (CATALOG_MAX_BYTES, KNOWLEDGE_MAX_BYTES) == (100_000, 200_000)
    just_under = "a" * (limit - 1)
    exactly = "a" * limit
    just_over = "a" * (limit + 1)
    check_size(just_under, limit)
    check_size(exactly, limit)
    assert render(just_under, max_bytes=limit).text == just_under
    assert render(exactly, max_bytes=limit).html.startswith("<p>")
    with pytest.raises(MarkdownTooLarge, match=f"limit is {limit} bytes"):
        check_size(just_over, limit)
    with pytest.raises(MarkdownTooLarge, match=str(limit)) as raised:
        render(just_over, max_bytes=limit)
    assert isinstance(raised.value, ValueError)
    assert (raised.value.size, raised.value.max_bytes) == (limit + 1, limit)


def test_size_is_counted_in_utf8_bytes() -> None:
    limit = CATALOG_MAX_BYTES
    check_size("ä" * (limit // 2), limit)  # 2 bytes each
    with pytest.raises(MarkdownTooLarge):
        check_size("ä" * (limit // 2) + "a", limit)
    with pytest.raises(MarkdownTooLarge):
        to_plain_text("€" * limit, max_bytes=limit)


def test_default_limit_is_the_knowledge_limit() -> None:
    render("a" * KNOWLEDGE_MAX_BYTES)
    with pytest.raises(MarkdownTooLarge):
        render("a" * (KNOWLEDGE_MAX_BYTES + 1))


# --- sharing ----------------------------------------------------------------------------------------------


def test_renderer_is_safe_to_share_between_threads() -> None:
    sources = [
        f"## Teil {n}\n\n## Teil {n}\n\nhttps://example.org/{n} [^1]\n\n- [x] {n}\n\n[^1]: Fußnote {n}"
        for n in range(16)
    ]
    expected = [render(source) for source in sources]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(render, sources * 20))
    assert results == expected * 20

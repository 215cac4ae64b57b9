"""Hostile input is a 4xx that names the problem, never a 500 (issue 12, item 5); the guides' numbers: tests/knowledge.

Bodies the decoders choke on (deep nesting, invalid UTF-8, integers beyond 64 bits), numbers in URLs
that would overflow a database column, and cursors nobody handed out.
"""

import json
from typing import Any

import httpx
import pytest

from allmende.accounts.models import PlatformRole
from allmende.core.bodylimits import MAX_JSON_DEPTH, check_json
from allmende.core.db import Database
from allmende.core.pagination import MAX_INTEGER, decode_cursor, encode_cursor
from allmende.core.problems import Problem
from tests.support.factories import csrf_headers, login, make_user, seed_vocabularies
from tests.support.hostile import HTML, HUGE, JSON, cursor_of, german_page, problem
from tests.support.knowledge import guide_payload
from tests.support.web import csrf


async def refused_login(client: httpx.AsyncClient, body: bytes, status: int, field: str) -> dict[str, Any]:
    """The problem document the sign-in API answers a raw JSON ``body`` with."""
    return problem(await client.post("/api/v1/auth/login", content=body, headers=JSON), status, field)


# Bodies ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000],
    ids=["arrays", "objects"],
)
async def test_deeply_nested_json_is_a_400_naming_the_body(client: httpx.AsyncClient, body: bytes) -> None:
    answer = await refused_login(client, body, 400, "body")
    assert answer["type"] == "/problems/malformed-request"
    assert str(MAX_JSON_DEPTH) in answer["detail"]


async def test_nesting_up_to_the_limit_reaches_the_validator(client: httpx.AsyncClient) -> None:
    inside = b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1)
    body = b'{"email": "a@example.org", "password": ' + inside + b"}"
    await refused_login(client, body, 422, "password")  # a list is no password: the decoder read it
    await refused_login(client, b"[" + body + b"]", 400, "body")


async def test_brackets_inside_strings_do_not_count(client: httpx.AsyncClient) -> None:
    body = json.dumps({"email": "[" * 1000 + '\\"{' * 100, "password": "]" * 10}).encode()
    await refused_login(client, body, 422, "email")


async def test_invalid_utf8_in_a_string_is_a_400_naming_the_body(client: httpx.AsyncClient) -> None:
    body = b'{"email": "a\xff\xfe@example.org", "password": "x"}'
    answer = await refused_login(client, body, 400, "body")
    assert answer["type"] == "/problems/malformed-request"
    assert "UTF-8" in answer["detail"]


async def test_an_integer_beyond_64_bits_is_a_422_naming_the_field(client: httpx.AsyncClient) -> None:
    body = b'{"email": "a@example.org", "password": ' + b"7" * 400 + b"}"
    answer = await refused_login(client, body, 422, "password")
    assert answer["type"] == "/problems/invalid-input"
    assert "64 bits" in answer["detail"]


async def test_an_oversized_integer_deep_in_the_body_is_named_by_its_path(client: httpx.AsyncClient) -> None:
    body = b'{"title": "x", "organizations": ["a", {"q": [1, 2, -' + b"9" * 30 + b"]}]}"
    response = await client.post("/api/v1/case-studies", content=body, headers=JSON)
    problem(response, 422, "organizations.1.q.2")


async def test_a_million_digits_are_refused_before_any_conversion(client: httpx.AsyncClient) -> None:
    body = b'{"email": "a@example.org", "password": ' + b"7" * 900_000 + b"}"
    await refused_login(client, body, 422, "password")


async def test_an_ordinary_body_is_still_read_after_the_guard(client: httpx.AsyncClient, database: Database) -> None:
    await seed_vocabularies(database)
    user = await make_user(database, role=PlatformRole.moderator)
    assert (await login(client, user.email)).status_code == 201  # a JSON body, read after the guard
    title = "Open Data [starten] mit {9223372036854775807} Zeilen"
    created = await client.post(
        "/api/v1/guides",
        headers=csrf_headers(client),
        json=guide_payload(title=title, tags=["daten"], summary="Erste Schritte: ä ö ü ß €."),
    )
    assert created.status_code == 201, created.text
    assert created.json()["title"] == title
    assert created.json()["summary"] == "Erste Schritte: ä ö ü ß €."
    diff = await client.get(f"/api/v1/guides/{created.json()['slug']}/diff", params={"from": 1, "to": 1})
    assert diff.status_code == 200, diff.text


async def test_a_web_form_still_works_after_the_guard(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database)
    await client.get("/anmelden")
    response = await client.post(
        "/anmelden",
        data={"email": user.email, "password": "correct horse battery staple", "next": "/"},
        headers={**HTML, **csrf_headers(client)},
    )
    assert response.status_code in (200, 303), response.text[:300]
    assert client.cookies.get("session")


# Web forms with the same input: a German page, not a 500 --------------------------------------------


async def test_a_form_with_invalid_utf8_gets_the_german_page(client: httpx.AsyncClient) -> None:
    token = (await csrf(client)).encode()
    for body in (b"email=a%FF%FE@example.org&password=x", b"email=a\xff@example.org&password=x"):
        response = await client.post(
            "/anmelden",
            content=body + b"&_csrf_token=" + token,
            headers={**HTML, "content-type": "application/x-www-form-urlencoded"},
        )
        german_page(response, 400)


async def test_a_multipart_form_with_invalid_utf8_gets_the_german_page(client: httpx.AsyncClient) -> None:
    token = (await csrf(client)).encode()
    body = (
        b'--B\r\nContent-Disposition: form-data; name="email"\r\n\r\na\xff\xfe@example.org\r\n'
        b'--B\r\nContent-Disposition: form-data; name="_csrf_token"\r\n\r\n' + token + b"\r\n--B--\r\n"
    )
    response = await client.post(
        "/anmelden", content=body, headers={**HTML, "content-type": "multipart/form-data; boundary=B"}
    )
    german_page(response, 400)
    unknown_charset = body.replace(
        b'name="email"\r\n', b'name="email"\r\nContent-Type: text/plain; charset=klingon\r\n'
    )
    response = await client.post(
        "/anmelden", content=unknown_charset, headers={**HTML, "content-type": "multipart/form-data; boundary=B"}
    )
    german_page(response, 400)


async def test_deep_json_to_a_web_form_gets_the_german_page(client: httpx.AsyncClient) -> None:
    await csrf(client)
    response = await client.post(
        "/anmelden",
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={**HTML, **csrf_headers(client), "content-type": "application/json"},
    )
    german_page(response, 400)


# Numbers in URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/guides/ein-leitfaden/diff", {"from": HUGE, "to": 1}, "from"),
        ("/api/v1/guides/ein-leitfaden/diff", {"from": 1, "to": HUGE}, "to"),
        ("/api/v1/guides/ein-leitfaden/diff", {"from": 0, "to": 1}, "from"),
        ("/api/v1/guides/ein-leitfaden/diff", {"from": str(MAX_INTEGER + 1), "to": 1}, "from"),
        (f"/api/v1/stages/{HUGE}", {}, "number"),
        ("/api/v1/case-studies", {"cohort": HUGE}, "cohort"),
        ("/api/v1/case-studies", {"limit": HUGE}, "limit"),
        ("/api/v1/solutions", {"limit": HUGE}, "limit"),
        ("/api/v1/organizations", {"limit": HUGE}, "limit"),
        ("/api/v1/offer-requests", {"limit": HUGE}, "limit"),
        ("/api/v1/inbox", {"limit": HUGE}, "limit"),
        ("/api/v1/search", {"page": HUGE}, "page"),
        ("/api/v1/search", {"per_page": HUGE}, "per_page"),
        ("/api/v1/search", {"cursor": HUGE}, "cursor"),
        ("/api/v1/search", {"cursor": "²"}, "cursor"),
        ("/api/v1/search/suggest", {"q": "a", "limit": HUGE}, "limit"),
    ],
)
async def test_a_huge_number_in_the_url_is_a_422_naming_the_parameter(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], field: str
) -> None:
    response = await client.get(path, params=params)
    answer = problem(response, 422, field)
    assert answer["type"] == "/problems/invalid-input"


async def test_numbers_in_range_still_reach_the_handler(client: httpx.AsyncClient) -> None:
    diff = await client.get("/api/v1/guides/ein-leitfaden/diff", params={"from": MAX_INTEGER, "to": 1})
    assert diff.status_code == 404, diff.text  # past the bounds: the guide is what is missing
    assert (await client.get("/api/v1/stages/5")).status_code == 404
    assert (await client.get("/api/v1/solutions", params={"limit": 100})).status_code == 200


async def test_the_bounds_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()

    def schema_of(path: str, name: str) -> dict[str, Any]:
        for parameter in document["paths"][path]["get"]["parameters"]:
            if parameter["name"] == name:
                schema: dict[str, Any] = parameter["schema"]
                return schema
        raise AssertionError(f"{name} not in {path}")

    assert schema_of("/api/v1/guides/{slug}/diff", "from")["minimum"] == 1
    assert schema_of("/api/v1/guides/{slug}/diff", "from")["maximum"] == MAX_INTEGER
    assert schema_of("/api/v1/stages/{number}", "number")["maximum"] == MAX_INTEGER
    assert schema_of("/api/v1/solutions", "limit")["maximum"] == 100


# Cursors --------------------------------------------------------------------------------------------

HOSTILE_CURSORS = {
    "garbage": "!!!not base64!!!",
    "not json": cursor_of(b"not json"),
    "not a list": cursor_of(b'{"a": 1}'),
    "huge id": cursor_of(f'["Name", {HUGE}]'.encode()),
    "huge count": cursor_of(f'[{HUGE}, "Name", 1]'.encode()),
    "negative id": cursor_of(b'["Name", -1]'),
    "string id": cursor_of(b'["Name", "x"]'),
    "float id": cursor_of(b'["Name", 1e400]'),
    "nan": cursor_of(b'["Name", NaN]'),
    "boolean id": cursor_of(b'["Name", true]'),
    "nested": cursor_of(b"[" * 5000 + b"]" * 5000),
    "overlong": "A" * 50_000,
    "not ascii": "äöü",
}


@pytest.mark.parametrize("cursor", HOSTILE_CURSORS.values(), ids=HOSTILE_CURSORS.keys())
@pytest.mark.parametrize("path", ["/api/v1/solutions", "/api/v1/organizations", "/api/v1/case-studies"])
async def test_a_hostile_cursor_is_a_422_naming_the_cursor(client: httpx.AsyncClient, path: str, cursor: str) -> None:
    response = await client.get(path, params={"cursor": cursor})
    problem(response, 422, "cursor")


async def test_a_cursor_this_api_handed_out_still_works(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/organizations", params={"cursor": encode_cursor(["Name", 7])})).status_code == 200


# The checks themselves, without HTTP ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"x": 1.123456789012345678901, "y": 1e300, "z": "123456789012345678901234567890"}',
        b'{"max": 9223372036854775807, "min": -9223372036854775808}',
        b'"unterminated \\',
        b'"' + b'\\"' * 1000,
    ],
)
def test_check_json_lets_ordinary_and_malformed_bodies_through_to_the_decoder(body: bytes) -> None:
    check_json(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"max": 9223372036854775808}', "max"),
        (b'{"min": -9223372036854775809}', "min"),
        (b'{"a\\"b": ' + b"1" * 30 + b"}", 'a"b'),
        (b"1" * 30, "body"),
        (b'[{"a": 1}, {"b": [0, ' + b"1" * 30 + b"]}]", "1.b.1"),
    ],
)
def test_check_json_names_the_oversized_integer(body: bytes, field: str) -> None:
    with pytest.raises(Problem) as raised:
        check_json(body)
    assert raised.value.status == 422
    assert raised.value.field == field


def test_decode_cursor_checks_dates_where_asked() -> None:
    assert decode_cursor(encode_cursor(["2026-01-02T03:04:05+00:00", 3]), arity=2, dates=(0,)) == [
        "2026-01-02T03:04:05+00:00",
        3,
    ]
    with pytest.raises(Problem):
        decode_cursor(encode_cursor(["yesterday", 3]), arity=2, dates=(0,))


@pytest.mark.parametrize(
    ("path", "params"),
    [("/api/v1/solutions", {"sort": "newest"}), ("/api/v1/inbox", {}), ("/api/v1/offer-requests", {})],
)
async def test_a_forged_cursor_with_no_date_where_a_date_belongs_is_a_422(
    client: httpx.AsyncClient, database: Database, path: str, params: dict[str, str]
) -> None:
    user = await make_user(database)
    await login(client, user.email)
    forged = cursor_of(b'["kein Datum", 1]')
    response = await client.get(path, params={**params, "cursor": forged})
    problem(response, 422, "cursor")

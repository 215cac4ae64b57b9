"""Benchmark of the embedded search engine on synthetic German municipal catalog documents.

    uv run python bench/search.py [--sizes 1000,10000,100000] [--queries 300] [--seed 7]

For every size: incremental indexing throughput (``upsert`` in batches of 500), the time of a full
``rebuild``, and query latency p50/p95/p99 through the engine's async API (the same call the HTTP
endpoint makes, highlighting and facet counts included) for one-word queries, two-word queries with a
typo, and facet-filtered queries. ``measure_http_ratio`` is the hook for the HTTP endpoint.

Targets (issue): p95 < 20 ms at 100,000 documents; full rebuild of 100,000 documents < 60 s; HTTP
endpoint within 1.5× of the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from allmende.app import build_document_registry
from allmende.core.search import EmbeddedSearchEngine, SearchQuery

# The app's own index schema, so the same documents serve the engine and the HTTP endpoint.
SCHEMA = build_document_registry().schema()
FACETS = ["type", "sector", "stage", "standard", "bundesland"]

SECTORS = [
    "Smart Energy & Environment", "Smart Living", "Smart Infrastructure", "Smart Health Care",
    "Smart Governance", "Smart Transport & Mobility", "Smart People", "Smart Economy",
]  # fmt: skip
SECTOR_KEYS = {
    "Smart Energy & Environment": "smart-energy-environment", "Smart Living": "smart-living",
    "Smart Infrastructure": "smart-infrastructure", "Smart Health Care": "smart-health-care",
    "Smart Governance": "smart-governance", "Smart Transport & Mobility": "smart-transport-mobility",
    "Smart People": "smart-people", "Smart Economy": "smart-economy",
}  # fmt: skip
STATES = [
    "Baden-Württemberg", "Bayern", "Berlin", "Brandenburg", "Bremen", "Hamburg", "Hessen",
    "Mecklenburg-Vorpommern", "Niedersachsen", "Nordrhein-Westfalen", "Rheinland-Pfalz", "Saarland",
    "Sachsen", "Sachsen-Anhalt", "Schleswig-Holstein", "Thüringen",
]  # fmt: skip
STANDARDS = [
    "OZG",
    "XÖV",
    "FIT-Connect",
    "OParl",
    "DCAT-AP.de",
    "INSPIRE",
    "BITV 2.0",
    "ISO 27001",
    "BSI C5",
    "OpenAPI",
]
TOPICS = [
    "Parkraummanagement", "Bürgerbeteiligung", "Abfallkalender", "Ratsinformationssystem", "Mängelmelder",
    "Terminvereinbarung", "Straßenbeleuchtung", "Hochwasserwarnung", "Energiemonitoring", "Ladeinfrastruktur",
    "Nahverkehr", "Radverkehr", "Carsharing", "Stadtmodell", "Geoinformationssystem", "Datenplattform",
    "Bürgerservice", "Bürgerkonto", "Kitaplatzvergabe", "Schuldigitalisierung", "Sensornetz", "Luftqualität",
    "Lärmkarte", "Baumkataster", "Friedhofsverwaltung", "Fundbüro", "Haushaltsplanung", "Vergabeplattform",
    "Wohngeldantrag", "Gewerbeanmeldung", "Hundesteuer", "Sitzungsdienst", "Veranstaltungskalender",
    "Tourismusportal", "Leerstandsmanagement", "Quartiersentwicklung", "Pflegeberatung", "Ehrenamtsbörse",
    "Katastrophenschutz", "Feuerwehreinsatzplanung", "Winterdienst", "Glasfaserausbau", "Dorfladen",
    "Mitfahrbank", "Rufbus", "Stadtbibliothek", "Schwimmbadbuchung", "Sportstättenvergabe",
]  # fmt: skip
QUALIFIERS = [
    "digital", "online", "für Kommunen", "Plus", "kommunal", "interkommunal", "Open Source", "Cloud",
    "mobil", "App", "Portal", "Plattform", "im ländlichen Raum", "für Landkreise", "2.0", "smart",
]  # fmt: skip
VERBS = [
    "unterstützt", "vereinfacht", "digitalisiert", "verbindet", "bündelt", "automatisiert", "visualisiert",
    "beschleunigt", "ermöglicht", "verbessert", "steuert", "dokumentiert",
]  # fmt: skip
NOUNS = [
    "Verwaltung", "Bürgerinnen und Bürger", "Sachbearbeitung", "Antragstellung", "Fachverfahren",
    "Datenaustausch", "Kommunikation", "Planung", "Abrechnung", "Auswertung", "Beteiligung", "Zusammenarbeit",
    "Daseinsvorsorge", "Infrastruktur", "Mobilität", "Klimaschutz", "Energieversorgung", "Verkehrsführung",
    "Parkplätze", "Haltestellen", "Sensoren", "Messwerte", "Schnittstellen", "Formulare", "Bescheide",
    "Termine", "Meldungen", "Dokumente", "Akten", "Geodaten", "Karten", "Dashboards", "Gremien", "Sitzungen",
]  # fmt: skip
FILLERS = [
    "die", "der", "das", "und", "mit", "für", "in", "auf", "den", "im", "eine", "einer", "zur", "zum",
    "schnell", "sicher", "einfach", "transparent", "barrierefrei", "datenschutzkonform", "zentral",
    "gemeinsam", "nachhaltig", "flexibel", "modular", "standardisiert", "offen", "regional", "lokal",
    "Kommune", "Landkreis", "Stadt", "Gemeinde", "Zweckverband", "Rechenzentrum", "Anbieter", "Betrieb",
    "Einführung", "Pilotprojekt", "Nachnutzung", "Skalierung", "Schulung", "Support", "Hosting",
]  # fmt: skip
TAGS = [
    "OZG", "Open Data", "Bürgerbeteiligung", "Mobilität", "Parken", "GIS", "E-Akte", "KI", "IoT", "LoRaWAN",
    "Nachnutzung", "EfA", "Open Source", "Cloud", "App", "Klimaschutz", "Energie", "Verwaltung", "Bildung",
    "Gesundheit", "Tourismus", "Wirtschaft", "Sicherheit", "Barrierefreiheit",
]  # fmt: skip
TYPES = ["solution"] * 7 + ["case_study"] * 2 + ["guide"]


def make_document(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(TYPES)
    topic = rng.choice(TOPICS)
    name = f"{topic} {rng.choice(QUALIFIERS)}"
    if kind == "case_study":
        name = f"Fallstudie: {topic} in {rng.choice(STATES)}"
    elif kind == "guide":
        name = f"Leitfaden {topic}"

    def sentence() -> str:
        words = [rng.choice(NOUNS), rng.choice(VERBS), rng.choice(FILLERS), rng.choice(NOUNS)]
        words += [rng.choice(FILLERS if rng.random() < 0.6 else NOUNS) for _ in range(rng.randint(4, 12))]
        if rng.random() < 0.4:
            words.append(rng.choice(TOPICS))
        return " ".join(words).capitalize() + "."

    identifier = uuid.UUID(int=rng.getrandbits(128))
    sectors = rng.sample(SECTORS, rng.randint(1, 2))
    return {
        "id": f"{kind}:{identifier}",
        "type": kind,
        "slug": f"{kind}-{identifier.hex[:12]}",
        "title": name,
        "summary": f"{topic} {rng.choice(VERBS)} {rng.choice(NOUNS)} {rng.choice(FILLERS)} {rng.choice(NOUNS)}.",
        "body": " ".join(sentence() for _ in range(rng.randint(6, 14))),
        "tags": rng.sample(TAGS, rng.randint(1, 4)) + sectors,
        "provider": f"Anbieter {rng.randint(1, 2000)}",
        "places": rng.sample(STATES, rng.randint(0, 2)),
        "sector": [SECTOR_KEYS[s] for s in sectors],
        "stage": [str(s) for s in sorted(rng.sample([1, 2, 3, 4], rng.randint(1, 2)))],
        "standard": rng.sample(STANDARDS, rng.randint(0, 3)),
        "bundesland": [f"{rng.randint(1, 16):02d}"],
        "name": name.casefold(),
        "published": float(rng.randint(1_500_000_000, 1_760_000_000)),
        "adopters": int(rng.paretovariate(1.2)),
    }


def documents(size: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for _ in range(size):
        yield make_document(rng)


def typo(word: str, rng: random.Random) -> str:
    """One edit (swap, drop or replace) inside a word of at least 5 letters."""
    i = rng.randint(1, len(word) - 3)
    how = rng.choice(["swap", "drop", "replace"])
    if how == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if how == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + rng.choice("aeiounrst") + word[i + 1 :]


def query_sets(count: int, seed: int) -> dict[str, list[SearchQuery]]:
    rng = random.Random(seed + 1)
    words = [*TOPICS, "Sensoren", "Verwaltung", "Parkplatz", "Beteiligung", "ÖPNV", "Geodaten", "Schnittstellen"]
    one = [SearchQuery(q=rng.choice(words), facets=FACETS) for _ in range(count)]
    two = []
    for _ in range(count):
        pair = [rng.choice(TOPICS), rng.choice([n for n in NOUNS if " " not in n])]
        which = rng.randrange(2) if len(pair[1]) >= 5 else 0
        pair[which] = typo(pair[which], rng)
        two.append(SearchQuery(q=" ".join(pair), facets=FACETS))
    filtered = [
        SearchQuery(
            q=rng.choice(words),
            filters={
                "sector": [SECTOR_KEYS[rng.choice(SECTORS)]],
                "bundesland": [f"{n:02d}" for n in rng.sample(range(1, 17), 2)],
            },
            facets=FACETS,
        )
        for _ in range(count)
    ]
    return {"one word": one, "two words, one typo": two, "facet-filtered": filtered}


@dataclass
class SizeReport:
    size: int
    upsert_docs_per_s: float = 0.0
    rebuild_s: float = 0.0
    rebuild_docs_per_s: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    http: tuple[float, float, float] | None = None  # (HTTP p50 ms, engine p50 ms, ratio)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def measure_http_ratio(
    engine: EmbeddedSearchEngine, queries: list[SearchQuery], workdir: Path, progress: Progress
) -> tuple[float, float, float]:
    """p50 of ``GET /api/v1/search`` (the whole app: middleware, validation, serialisation) and p50 of the
    engine's own ``search`` for the same queries, measured alternately in one loop so that load on the
    machine affects both alike. Returns (http p50 ms, engine p50 ms, ratio)."""
    import httpx

    from allmende.app import build_adapters, create_app
    from allmende.core.migrate import upgrade
    from allmende.core.settings import Settings

    settings = Settings(
        ALLMENDE_DATA_DIR=workdir / "app", ALLMENDE_SECRET_KEY="bench-" + "x" * 40, ALLMENDE_SEED_ON_START=False
    )
    upgrade(settings.effective_database_url)
    adapters = build_adapters(settings)
    adapters.search = engine  # the index built for the largest size
    app = create_app(settings, adapters)
    http_ms: list[float] = []
    engine_ms: list[float] = []
    task = progress.add_task("HTTP vs engine", total=len(queries))
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for n, query in enumerate(queries):
            params: list[tuple[str, str | int | float | bool | None]] = [("q", query.q)]
            params += [("facet", f) for f in query.facets]
            params += [(name, value) for name, values in query.filters.items() for value in values]
            t0 = time.perf_counter()
            response = await client.get("/api/v1/search", params=params)
            t1 = time.perf_counter()
            await engine.search(query)
            t2 = time.perf_counter()
            assert response.status_code == 200, response.text
            if n >= 20:  # the first ones warm caches
                http_ms.append((t1 - t0) * 1000)
                engine_ms.append((t2 - t1) * 1000)
            progress.advance(task)
    await adapters.database.dispose()
    http_p50, engine_p50 = percentile(http_ms, 50), percentile(engine_ms, 50)
    return http_p50, engine_p50, http_p50 / engine_p50


async def bench_size(
    size: int, queries: int, seed: int, progress: Progress, workdir: Path, with_http: bool = False
) -> SizeReport:
    report = SizeReport(size=size)
    docs = list(documents(size, seed))

    # incremental indexing: upsert in batches, as the change-log job does
    engine = EmbeddedSearchEngine(workdir / f"upsert-{size}")
    await engine.configure(SCHEMA)
    task = progress.add_task(f"{size:>7,} upsert", total=size)
    started = time.perf_counter()
    for i in range(0, size, 500):
        await engine.upsert(docs[i : i + 500])
        progress.update(task, completed=min(size, i + 500))
    report.upsert_docs_per_s = size / (time.perf_counter() - started)
    await engine.close()

    # full rebuild, searched concurrently
    engine = EmbeddedSearchEngine(workdir / f"rebuild-{size}")
    await engine.configure(SCHEMA)
    task = progress.add_task(f"{size:>7,} rebuild", total=size)
    started = time.perf_counter()
    await engine.rebuild(iter(docs), on_progress=lambda n: progress.update(task, completed=n))
    report.rebuild_s = time.perf_counter() - started
    report.rebuild_docs_per_s = size / report.rebuild_s
    assert await engine.count() == size

    sets = query_sets(queries, seed)
    for name, qs in sets.items():
        for query in qs[:20]:  # warm-up
            await engine.search(query)
        task = progress.add_task(f"{size:>7,} {name}", total=len(qs))
        times: list[float] = []
        totals: list[int] = []
        for query in qs:
            t0 = time.perf_counter()
            result = await engine.search(query)
            times.append((time.perf_counter() - t0) * 1000)
            totals.append(result.total)
            progress.advance(task)
        report.latencies[name] = times
        report.totals[name] = statistics.mean(totals)
    if with_http:
        report.http = await measure_http_ratio(engine, sets["one word"], workdir / f"http-{size}", progress)
    await engine.close()
    return report


def render(reports: list[SizeReport], console: Console) -> None:
    table = Table(title="Embedded search engine (tantivy)", show_lines=False)
    table.add_column("docs", justify="right")
    table.add_column("upsert docs/s", justify="right")
    table.add_column("rebuild s", justify="right")
    table.add_column("rebuild docs/s", justify="right")
    table.add_column("query", justify="left")
    table.add_column("avg hits", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    for report in reports:
        first = True
        for name, values in report.latencies.items():
            table.add_row(
                f"{report.size:,}" if first else "",
                f"{report.upsert_docs_per_s:,.0f}" if first else "",
                f"{report.rebuild_s:.1f}" if first else "",
                f"{report.rebuild_docs_per_s:,.0f}" if first else "",
                name,
                f"{report.totals[name]:,.0f}",
                f"{percentile(values, 50):.2f}",
                f"{percentile(values, 95):.2f}",
                f"{percentile(values, 99):.2f}",
            )
            first = False
    console.print(table)
    for report in reports:
        if report.http is not None:
            http_p50, engine_p50, ratio = report.http
            console.print(
                f"HTTP ratio at {report.size:,} documents, one-word queries: GET /api/v1/search p50 "
                f"{http_p50:.2f} ms / engine p50 {engine_p50:.2f} ms = {ratio:.2f} (target ≤ 1.5)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated document counts")
    parser.add_argument("--queries", type=int, default=300, help="queries per kind and size")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    console = Console(width=150)
    reports: list[SizeReport] = []
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with tempfile.TemporaryDirectory(prefix="allmende-bench-") as tmp, Progress(*columns, console=console) as progress:
        for size in sizes:
            largest = size == max(sizes)
            reports.append(asyncio.run(bench_size(size, args.queries, args.seed, progress, Path(tmp), largest)))
    render(reports, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

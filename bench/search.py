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

from allmende.core.search import EmbeddedSearchEngine, IndexSchema, SearchQuery

SCHEMA = IndexSchema(
    searchable=[("name", 3.0), ("summary", 2.0), ("tags", 2.0), ("body", 1.0)],
    filterable=["sectors", "stages", "standards", "state", "organization"],
    sortable=["name", "published_at", "adopters_count"],
)
FACETS = ["type", "sectors", "stages", "standards", "state"]

SECTORS = [
    "Smart Energy & Environment", "Smart Living", "Smart Infrastructure", "Smart Health Care",
    "Smart Governance", "Smart Transport & Mobility", "Smart People", "Smart Economy",
]  # fmt: skip
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

    return {
        "id": f"{kind}:{uuid.UUID(int=rng.getrandbits(128))}",
        "type": kind,
        "name": name,
        "summary": f"{topic} {rng.choice(VERBS)} {rng.choice(NOUNS)} {rng.choice(FILLERS)} {rng.choice(NOUNS)}.",
        "body": " ".join(sentence() for _ in range(rng.randint(6, 14))),
        "tags": rng.sample(TAGS, rng.randint(1, 4)),
        "sectors": rng.sample(SECTORS, rng.randint(1, 2)),
        "stages": [str(s) for s in sorted(rng.sample([1, 2, 3, 4], rng.randint(1, 2)))],
        "standards": rng.sample(STANDARDS, rng.randint(0, 3)),
        "state": rng.choice(STATES),
        "organization": f"org-{rng.randint(1, 2000)}",
        "published_at": f"20{rng.randint(18, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "adopters_count": int(rng.paretovariate(1.2)),
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
            filters={"sectors": [rng.choice(SECTORS)], "state": rng.sample(STATES, 2)},
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


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def measure_http_ratio(base_url: str | None, queries: list[SearchQuery], engine_p50_ms: float) -> float | None:
    """HOOK — HTTP endpoint latency ÷ engine latency (target ≤ 1.5).

    To be wired to ``GET {base_url}/api/v1/search`` by the search-endpoint work: send the same
    ``queries`` over HTTP (after warming up), take the p50, divide by ``engine_p50_ms``. Returns None
    while it is not wired.
    """
    del base_url, queries, engine_p50_ms
    return None


async def bench_size(size: int, queries: int, seed: int, progress: Progress, workdir: Path) -> SizeReport:
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
    await engine.close()
    return report


def render(reports: list[SizeReport], console: Console, http_ratio: float | None) -> None:
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
    console.print(
        "HTTP ratio: not wired yet" if http_ratio is None else f"HTTP ratio (p50 HTTP / p50 engine): {http_ratio:.2f}"
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
            reports.append(asyncio.run(bench_size(size, args.queries, args.seed, progress, Path(tmp))))
    largest = reports[-1] if reports else None
    ratio = None
    if largest is not None:
        p50 = percentile(largest.latencies["one word"], 50)
        ratio = asyncio.run(measure_http_ratio(None, query_sets(args.queries, args.seed)["one word"], p50))
    render(reports, console, ratio)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

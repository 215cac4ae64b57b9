"""An engine outage delays the index but loses nothing and never blocks a write.

The engine here is the Meilisearch adapter talking to the Meilisearch protocol double
(tests/meili_double.py, written from Meilisearch's documented API; it is not Meilisearch): the double
is stopped, so its port is closed, while solutions are written, and started again on the same port.
"""

from typing import Any
from uuid import uuid4

import httpx
import pytest

from allmende.app import Adapters
from allmende.core.indexing import backlog, drain
from allmende.core.search import MeilisearchEngine, SearchQuery, SearchUnavailable
from tests.support.meili_double import MeilisearchProtocolDouble


async def _publish(database: Any, name: str) -> None:
    from sqlmodel import select

    from allmende.accounts.models import Organization
    from allmende.core.types import utcnow
    from marketplace.models import Solution
    from marketplace.schemas import SolutionFields
    from marketplace.services import sync_facets
    from tests.support.factories import solution_payload

    async with database.unit_of_work() as session:
        vendor = (await session.exec(select(Organization).where(Organization.kind == "vendor"))).first()
        solution = Solution(
            slug=f"ausfall-{uuid4().hex[:8]}",
            provider_id=vendor.id,
            state="published",
            published_at=utcnow(),
            **SolutionFields.model_validate(solution_payload(name=name)).stored(),
        )
        session.add(solution)
        await session.flush()
        await sync_facets(session, solution)


async def _titles(engine: MeilisearchEngine, q: str) -> list[str]:
    result = await engine.search(SearchQuery(q=q, filters={"type": ["solution"]}, per_page=50))
    return [hit.document["title"] for hit in result.hits]


@pytest.mark.seeded
async def test_index_catches_up_after_the_engine_returns(adapters: Adapters, client: httpx.AsyncClient) -> None:
    double = MeilisearchProtocolDouble().start()
    port = int(double.url.rsplit(":", 1)[1])
    engine = MeilisearchEngine(double.url, timeout_seconds=2)
    try:
        await engine.configure(adapters.documents.schema())
        await drain(adapters.database, adapters.documents, engine)
        before = await engine.count()
        assert before >= 100

        double.stop()  # the engine goes away: its port is closed now
        for n in range(3):
            await _publish(adapters.database, f"Pegelwarnsystem Nummer {n}")  # writes still succeed
        waiting = await backlog(adapters.database)
        assert waiting == 3
        with pytest.raises(SearchUnavailable):
            await drain(adapters.database, adapters.documents, engine)
        assert await backlog(adapters.database) == waiting  # the cursor did not move: nothing is lost

        double.start(port)  # back, with the documents it had
        assert await drain(adapters.database, adapters.documents, engine) == waiting
        assert await backlog(adapters.database) == 0
        assert sorted(await _titles(engine, "Pegelwarnsystem")) == [f"Pegelwarnsystem Nummer {n}" for n in range(3)]
        assert await engine.count() == before + 3
        # Draining again changes nothing: the jobs are idempotent.
        assert await drain(adapters.database, adapters.documents, engine) == 0
        assert await engine.count() == before + 3
    finally:
        double.stop()
        await engine.close()

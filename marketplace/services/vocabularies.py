"""Vocabularies: the terms each coded field draws from, adding terms, checking content against them."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.principal import Principal
from allmende.core.audit import record_for
from allmende.core.problems import Conflict, InvalidInput, NotFound
from marketplace.models import Vocabulary, VocabularyTerm
from marketplace.schemas import TermIn, TermOut, VocabularyOut

# Which vocabulary each coded field draws its terms from.
FIELD_VOCABULARY: dict[str, str] = {
    "kind": "solution-kinds",
    "development_status": "development-status",
    "stages": "stages",
    "sectors": "sectors",
    "areas": "areas",
    "standards": "standards",
    "hosting_options": "hosting-options",
    "hosting_location": "hosting-locations",
    "protection_need": "protection-needs",
    "accessibility": "accessibility",
    "pricing_model": "pricing-models",
}


async def vocabulary_index(session: AsyncSession) -> dict[str, set[str]]:
    rows = await session.exec(select(VocabularyTerm.vocabulary_key, VocabularyTerm.key))
    index: dict[str, set[str]] = {}
    for vocabulary, key in rows:
        index.setdefault(vocabulary, set()).add(key)
    return index


async def list_vocabularies(session: AsyncSession) -> list[VocabularyOut]:
    vocabularies = list(await session.exec(select(Vocabulary).order_by(col(Vocabulary.sort_order))))
    terms = list(
        await session.exec(select(VocabularyTerm).order_by(col(VocabularyTerm.sort_order), col(VocabularyTerm.key)))
    )
    by_vocabulary: dict[str, list[TermOut]] = {}
    for term in terms:
        by_vocabulary.setdefault(term.vocabulary_key, []).append(TermOut.model_validate(term, from_attributes=True))
    return [
        VocabularyOut(
            key=v.key,
            label_de=v.label_de,
            label_en=v.label_en,
            extensible=v.extensible,
            terms=by_vocabulary.get(v.key, []),
        )
        for v in vocabularies
    ]


async def get_vocabulary(session: AsyncSession, key: str) -> VocabularyOut:
    for vocabulary in await list_vocabularies(session):
        if vocabulary.key == key:
            return vocabulary
    raise NotFound(f"no vocabulary '{key}'", field="vocabulary")


async def add_term(session: AsyncSession, principal: Principal, vocabulary_key: str, data: TermIn) -> TermOut:
    principal.require_moderator()
    vocabulary = await session.get(Vocabulary, vocabulary_key)
    if vocabulary is None:
        raise NotFound(f"no vocabulary '{vocabulary_key}'", field="vocabulary")
    if not vocabulary.extensible:
        raise Conflict(f"the vocabulary '{vocabulary_key}' is fixed by the source documents", field="vocabulary")
    if (
        await session.exec(
            select(VocabularyTerm).where(
                VocabularyTerm.vocabulary_key == vocabulary_key, VocabularyTerm.key == data.key
            )
        )
    ).first():
        raise Conflict(f"the term '{data.key}' exists already", field="key")
    term = VocabularyTerm(vocabulary_key=vocabulary_key, sort_order=1000, **data.model_dump())
    session.add(term)
    record_for(
        session,
        principal,
        action="vocabulary.add_term",
        record_type="vocabulary",
        data={"vocabulary": vocabulary_key, "term": data.key},
    )
    return TermOut.model_validate(term, from_attributes=True)


def check_terms(content: dict[str, Any], index: dict[str, set[str]]) -> None:
    """Every coded value must be a term of its vocabulary; the error names the field."""
    for field_name, vocabulary in FIELD_VOCABULARY.items():
        value = content.get(field_name)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        known = index.get(vocabulary, set())
        for term in values:
            if term not in known:
                raise InvalidInput(f"'{term}' is not a term of the vocabulary '{vocabulary}'", field=field_name)
        if isinstance(value, list) and len(set(value)) != len(value):
            raise InvalidInput("a term is listed twice", field=field_name)


async def vocabulary_labels(session: AsyncSession) -> dict[tuple[str, str], list[str]]:
    """(vocabulary, key) → its German and English labels: search finds a term by either language."""
    rows = await session.exec(select(VocabularyTerm))
    return {(t.vocabulary_key, t.key): [t.label_de, t.label_en] for t in rows}

"""The controlled vocabularies with their terms in order, labelled in the active locale."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.web.kit import i18n
from marketplace import services as marketplace
from marketplace.schemas import TermOut


@dataclass
class Vocabularies:
    """Every controlled vocabulary with its terms in order, labelled in the active locale."""

    terms_by_vocabulary: dict[str, list[TermOut]]
    titles: dict[str, tuple[str, str]]

    def terms(self, vocabulary: str) -> list[TermOut]:
        return self.terms_by_vocabulary.get(vocabulary, [])

    def keys(self, vocabulary: str) -> set[str]:
        return {t.key for t in self.terms(vocabulary)}

    def label(self, vocabulary: str, key: str | None) -> str:
        if key is None:
            return ""
        for term in self.terms(vocabulary):
            if term.key == key:
                return term.label_en if i18n.current() == "en" else term.label_de
        return key

    def description(self, vocabulary: str, key: str) -> str:
        for term in self.terms(vocabulary):
            if term.key == key:
                text = term.description_en if i18n.current() == "en" else term.description_de
                return text or ""
        return ""

    def title(self, vocabulary: str) -> str:
        de, en = self.titles.get(vocabulary, (vocabulary, vocabulary))
        return en if i18n.current() == "en" else de


async def load_vocabularies(session: AsyncSession) -> Vocabularies:
    found = await marketplace.list_vocabularies(session)
    return Vocabularies(
        terms_by_vocabulary={v.key: v.terms for v in found}, titles={v.key: (v.label_de, v.label_en) for v in found}
    )

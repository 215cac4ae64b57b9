"""Imports every table model so that ``SQLModel.metadata`` describes the whole schema (for Alembic)."""

from allmende.accounts import models as accounts_models
from allmende.core import audit, indexing, records
from identity import models as identity_models
from knowledge import models as knowledge_models
from marketplace import models as marketplace_models
from notifications import models as notifications_models
from offer_requests import models as offer_requests_models

__all__ = [
    "accounts_models",
    "audit",
    "identity_models",
    "indexing",
    "knowledge_models",
    "marketplace_models",
    "notifications_models",
    "offer_requests_models",
    "records",
]

"""Kept only for the offer-request pages (``allmende/web/offers.py``), which move on another branch.

The queries the pages need are the domains' services now (``marketplace.services.facet_counts``,
``review_queue``, ``published_options``; ``knowledge.services.guide_drafts``). After the merge,
offers.py calls ``catalog.published_options`` itself and this module goes.
"""

from __future__ import annotations

from marketplace import services as catalog

published_options = catalog.published_options

"""The rules of offer requests, callable without HTTP: what the controllers, the jobs and the web pages call.

No HTTP and no commits here; the unit of work around the request or job commits. How a caller relates
to a request, and so what it sees at all, is decided in ``offer_requests.policies``. The modules here are
split by concern: ``requests`` (create, edit, open, withdraw), ``bundle`` (join, leave, participants,
acceptance), ``offers`` (submit, revise, read offers and revisions), ``conversation`` (threads and
messages), ``closing`` (deadline, reminder, decision) and ``reading`` (one request, the lists). Callers
import from this package, not from those modules.

Writers lock the request row (SELECT … FOR UPDATE; a no-op on SQLite, which serialises writers
anyway), so a join, a leave and an offer revision never interleave. An offer is priced for a bundle
version; a revision for an outdated bundle is a 409, and offers priced before a participant left are
flagged, never silently rewritten. Revisions are append-only rows.
"""

from offer_requests.models import OfferRequestState
from offer_requests.notices import offer_request_link
from offer_requests.policies import Relation, load_offer_request, relation_to
from offer_requests.services.bundle import join_offer_request, leave_offer_request, list_participants, set_acceptance
from offer_requests.services.closing import (
    REMINDER_BEFORE,
    close_due_offer_requests,
    decide_offer_request,
    remind_offer_requests,
)
from offer_requests.services.common import OFFER_RECORD, OFFER_REQUEST_RECORD
from offer_requests.services.conversation import list_messages, list_threads, post_message
from offer_requests.services.offers import (
    get_offer,
    list_offers,
    list_revisions,
    offer_out,
    offer_outs,
    revise_offer,
    submit_offer,
)
from offer_requests.services.reading import (
    OFFER_REQUEST_RELATIONS,
    get_offer_request,
    list_offer_requests,
    offer_request_out,
    offer_request_view,
)
from offer_requests.services.requests import (
    MAX_DEADLINE_AHEAD,
    create_offer_request,
    open_offer_request,
    update_offer_request,
    withdraw_offer_request,
)

__all__ = [
    "MAX_DEADLINE_AHEAD",
    "OFFER_RECORD",
    "OFFER_REQUEST_RECORD",
    "OFFER_REQUEST_RELATIONS",
    "REMINDER_BEFORE",
    "OfferRequestState",
    "Relation",
    "close_due_offer_requests",
    "create_offer_request",
    "decide_offer_request",
    "get_offer",
    "get_offer_request",
    "join_offer_request",
    "leave_offer_request",
    "list_messages",
    "list_offer_requests",
    "list_offers",
    "list_participants",
    "list_revisions",
    "list_threads",
    "load_offer_request",
    "offer_out",
    "offer_outs",
    "offer_request_link",
    "offer_request_out",
    "offer_request_view",
    "open_offer_request",
    "post_message",
    "relation_to",
    "remind_offer_requests",
    "revise_offer",
    "set_acceptance",
    "submit_offer",
    "update_offer_request",
    "withdraw_offer_request",
]

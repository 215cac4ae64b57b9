"""Offer requests (Angebotsanfragen): public bodies ask vendors for offers, bundle their demand, compare the
offers and decide.

A domain of its own, beside the catalog (``marketplace``): it follows other rules. Its records are private
to the parties (requester, participants, addressed vendors), never public and never in the change log that
feeds search and the federation feed; who sees what is decided per request (``access``). It knows the
catalog only through ``marketplace.services`` (which solution, which providers). Federation's
cross-instance requests are to join it here.
"""

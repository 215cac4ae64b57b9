"""Offer requests: the list, the request and offer forms, the bundle, decisions, revisions and messages."""

"""Shared page machinery: rendering, the viewer and its guard, forms, formatting, errors, words, links."""

"""What the tests share that is no fixture: factories, protocol doubles, and helpers for the API, the
pages, the browser and the mail server. Fixtures live in the conftest.py files; no test module imports
another test module or a conftest (tests/test_architecture.py checks)."""

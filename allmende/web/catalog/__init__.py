"""The catalog: start page, solutions, comparison, organizations; the vendors' and public bodies' pages."""

"""One search over the hub and the lists on the search engine (/suche, /loesungen, /fallstudien, /leitfaeden)."""

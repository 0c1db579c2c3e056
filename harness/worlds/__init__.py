"""The worlds that assemble a run: what every run shares (``base``), a replicated key-value store
with its checkers (``runner``, which also runs one spec), and a partitioned transactional store
(``transactions``)."""

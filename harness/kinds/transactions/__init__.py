"""The transactions kind: a partitioned key-value store under interactive transactions.
:mod:`.contract` is what a transaction protocol speaks and what a world may ask its nodes."""

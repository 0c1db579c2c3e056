"""The kinds of run a suite can ask for (``kind: consensus`` or ``kind: transactions``): each
kind owns what its nodes must answer (its node contract), its world and its checks."""

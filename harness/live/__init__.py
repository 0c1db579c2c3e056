"""Live mode: the same protocol objects as real processes in real time, and any binary that
speaks Maelstrom's node protocol as a node. ``codec`` and ``linkv`` are the wire format,
``host`` runs one node on stdin/stdout (``distbench node``), ``processes`` and ``world`` are the
harness's side: the network, the clients and the faults of a ``mode: live`` run."""

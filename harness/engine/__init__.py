"""The simulation engine: the event loop (``sim``), the network (``network``), the node host with
its cost model (``node``) and a message-by-message host for tests
(``scripted``). It never imports a protocol; protocols never import it."""

"""Parameters: the dotted config keys a suite sets or sweeps, how a report names them, and what
each measures. Whether a key is a duration, a rate, a size or a bandwidth is read from its type
in the suite schema (or, under ``protocols.<name>``, in that protocol's options model), so a new
setting written ``Duration`` shows as ``151ms`` in every table and title with nothing to add here.
"""

from __future__ import annotations

from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from harness.suite.run import RunConfig, lookup_protocol
from harness.units import Quantity

PARAM_LABELS = {
    "cluster.nodes": "cluster size",
    "network.loss": "message loss rate",
    "network.latency.mean": "mean link latency",
    "network.bandwidth": "link bandwidth",
    "workload.clients": "clients",
    "workload.rate": "offered load",
    "workload.keys": "keys",
    "workload.read_ratio": "read ratio",
    "workload.write_ratio": "write ratio",
    "workload.distribution.theta": "Zipfian θ",
    "workload.distribution.type": "key distribution",
    "workload.txn_size": "ops per txn",
    "workload.multi_partition": "multi-partition transactions",
    "replication.election_timeout": "election timeout",
    "replication.batch_size": "batch size",
    "cluster.cpu_per_message": "CPU per message",
    "cluster.fsync": "fsync time",
}
"""Short names a report uses instead of a key's last part."""

PARAM_UNITS = {"cluster.nodes": "nodes", "cluster.partitions": "partitions",
         "network.loss": "fraction", "network.duplicate": "fraction",
         "workload.clients": "count", "workload.keys": "count", "workload.accounts": "count",
         "workload.read_ratio": "fraction", "workload.write_ratio": "fraction",
         "workload.multi_partition": "fraction", "workload.distribution.theta": "exponent",
         "workload.txn_size": "ops", "workload.ops": "ops", "workload.retries": "count",
         "replication.batch_size": "commands", "replication.pipeline": "batches"}
"""What a plain number counts, for labels; a key with a :func:`quantity_of` shows its unit in its values."""


def param_label(key: str, unit: str | None = None) -> str:
    """``cluster size (nodes)``: the name and, unless ``unit`` is given, the unit from PARAM_UNITS."""
    unit = unit if unit is not None else PARAM_UNITS.get(key, "")
    return f"{param_short(key)} ({unit})" if unit else param_short(key)


def param_short(key: str) -> str:
    """Compact name for table headers and facet titles."""
    return PARAM_LABELS.get(key) or key.rsplit(".", 1)[-1].replace("_", " ")


def quantity_of(key: str) -> Quantity | None:
    """What the dotted config key ``key`` measures (``replication.election_timeout_max``: a
    duration), from its type; None for a count, a word, a key the schema does not have, or one
    whose type differs between the models it may belong to (the workload types, the latency laws)."""
    found = _quantities(RunConfig, key.split("."), ())
    return found.pop() if len(found) == 1 else None


def _quantities(tp: Any, parts: list[str], metadata: tuple[Any, ...]) -> set[Quantity | None]:
    """The quantities of the key path ``parts`` below type ``tp`` (whose field carried
    ``metadata``): one per model of a union that has the key, none where nothing has it."""
    if not parts:
        return {_marked(tp, metadata)}
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, UnionType):
        return set().union(*(_quantities(member, parts, ()) for member in get_args(tp)
                             if member is not NoneType))
    if get_origin(tp) is tuple and parts[0].isdigit():
        return _quantities(get_args(tp)[0], parts[1:], ())
    if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return set()
    if tp is RunConfig and parts[0] == "protocols":  # each section is its protocol's own model
        spec = lookup_protocol(parts[1]) if len(parts) > 1 else None
        return _quantities(spec.options, parts[2:], ()) if spec is not None else set()
    field = next((f for name, f in tp.model_fields.items() if parts[0] in (name, f.alias)), None)
    if field is None:
        return set()
    return _quantities(field.annotation, parts[1:], tuple(field.metadata))


def _marked(tp: Any, metadata: tuple[Any, ...]) -> Quantity | None:
    """The :class:`Quantity` an annotation carries (``Duration``, ``Rate | None`` ...), if any."""
    marks = [m for m in metadata if isinstance(m, Quantity)]
    if get_origin(tp) is Annotated:
        marks += [m for m in get_args(tp)[1:] if isinstance(m, Quantity)]
    elif get_origin(tp) in (Union, UnionType):
        members = {_marked(member, ()) for member in get_args(tp) if member is not NoneType}
        marks += [members.pop()] if len(members) == 1 and None not in members else []
    return marks[0] if marks else None

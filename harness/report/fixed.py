"""The setting every run of a suite shares, in a short human form: the report's "Fixed:" line.

It names what determines the numbers most: cluster size, how load is generated (closed or open
loop, clients, rate), the client timeout (under message loss the tail latency *is* the timeout),
the key distribution with only the parameters its type uses, the network (latency, loss and
per-link overrides) and the faults. Swept keys are left out (they are shown as swept).

The input is the suite's config from ``manifest.json``: normally resolved (durations in seconds,
rates per second), but values as written ("150ms", "2k/s") are understood too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.faults import ACTIONS, KINDS
from harness.units import DURATION, RATE, human_duration, human_rate


@dataclass(frozen=True)
class FixedItem:
    key: str      # the dotted config key (or section, e.g. "faults") it describes
    label: str
    text: str

    def __str__(self) -> str:
        return f"{self.label} = {self.text}"


def _get(cfg: dict, dotted: str) -> Any:
    cur: Any = cfg
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f else None


def _g(v: Any) -> str:
    f = _num(v)
    if f is None:
        return str(v)
    return f"{int(f):,}" if f.is_integer() and abs(f) >= 1000 else f"{f:g}"


def _dur(v: Any) -> str:
    s = DURATION.read(v)
    return human_duration(s) if s is not None else str(v)


def _rate(v: Any) -> str:
    r = RATE.read(v)
    return human_rate(r) if r is not None else str(v)


class _Swept:
    def __init__(self, keys: list[str]):
        self.keys = [k for k in keys if k]

    def __call__(self, key: str) -> bool:
        """Whether ``key`` or part of it (or a section containing it) is swept."""
        return any(s == key or s.startswith(key + ".") or key.startswith(s + ".") for s in self.keys)


# ---------------------------------------------------------------------------------------------

def describe(cfg: dict, swept: list[str], kind: str) -> list[FixedItem]:
    """The fixed setting of a suite, most decisive first."""
    sw = _Swept(swept)
    out: list[FixedItem] = []

    def add(key: str, label: str, text: str | None) -> None:
        if text:
            out.append(FixedItem(key, label, text))

    txn = kind == "transactions"
    if not txn and not sw("cluster.nodes") and _get(cfg, "cluster.nodes") is not None:
        add("cluster.nodes", "cluster size", f"{_g(_get(cfg, 'cluster.nodes'))} nodes")
    if txn and not sw("cluster.partitions") and _get(cfg, "cluster.partitions") is not None:
        add("cluster.partitions", "partitions", _g(_get(cfg, "cluster.partitions")))
    add("workload.mode", "load", _load(cfg, sw))
    add("workload.timeout", "client timeout", _timeout(cfg, sw, txn))
    add("workload.distribution", "keys", _keys(cfg, sw))
    w = _get(cfg, "workload") or {}
    if isinstance(w, dict):
        for key, label in (("ops", "ops per txn"), ("txn_size", "ops per txn"), ("read_ratio", "read ratio"),
                           ("write_ratio", "write ratio"), ("cas_ratio", "cas ratio"),
                           ("read_only_ratio", "read-only txns"), ("multi_partition", "multi-partition")):
            v = w.get(key)
            if v is None or sw(f"workload.{key}"):
                continue
            if key in ("cas_ratio", "read_only_ratio") and not _num(v):
                continue  # zero: nothing to say
            add(f"workload.{key}", label, _g(v))
    add("network.latency", "link latency", None if sw("network.latency") else _latency(_get(cfg, "network.latency")))
    add("network.loss", "message loss", _loss(cfg, sw))
    dup = _get(cfg, "network.duplicate")
    if _num(dup) and not sw("network.duplicate"):
        add("network.duplicate", "duplication", _g(dup))
    bw = _get(cfg, "network.bandwidth")
    if bw is not None and not sw("network.bandwidth"):
        add("network.bandwidth", "bandwidth", _bandwidth(bw))
    links = _get(cfg, "network.links")
    if isinstance(links, list) and links and not sw("network.links"):
        what = sorted({k for link in links if isinstance(link, dict) for k, v in link.items()
                       if k not in ("from", "to", "src", "dst", "loss") and v is not None})
        if what or sw("network.loss"):  # overrides of loss are already named with the loss
            add("network.links", "per-link overrides",
                f"{len(links)} entr{'y' if len(links) == 1 else 'ies'} ({', '.join(what or ['loss'])})")
    if "faults" in cfg and "faults" not in sw.keys:  # a swept fault section is shown as swept
        faults = describe_faults(cfg.get("faults"), sw)
        add("faults", "faults", faults)
        if faults != "none" and not txn and not sw("replication.election_timeout"):
            et = _get(cfg, "replication.election_timeout")
            if et is not None:
                add("replication.election_timeout", "election timeout", _dur(et))
    d, wu = cfg.get("duration"), cfg.get("warmup")
    if d is not None and not sw("duration"):
        add("duration", "duration", _dur(d) + (f" (warm-up {_dur(wu)})" if wu is not None and not sw("warmup") else ""))
    return out


def _load(cfg: dict, sw: _Swept) -> str | None:
    w = _get(cfg, "workload")
    if not isinstance(w, dict):
        return None
    mode = w.get("mode")
    clients = None if sw("workload.clients") or w.get("clients") is None else f"{_g(w['clients'])} clients"
    if sw("workload.mode"):
        return clients
    if mode == "open":
        if sw("workload.rate") or w.get("rate") is None:
            return "open loop (Poisson)" + (f", {clients}" if clients else "")
        return f"open loop, Poisson {_rate(w['rate'])}" + (f" from {clients}" if clients else "")
    if mode == "closed" or mode is None and clients:
        text = "closed loop" + (f", {clients}" if clients else "")
        think = DURATION.read(w.get("think_time"))
        if think and not sw("workload.think_time"):
            text += f", think time {human_duration(think)}"
        return text
    return clients


def _timeout(cfg: dict, sw: _Swept, txn: bool) -> str | None:
    if sw("workload.timeout"):
        return None
    t = _get(cfg, "workload.timeout")
    if t is None:
        return None
    text = _dur(t)
    retries = _get(cfg, "workload.retries")
    if retries is not None and not sw("workload.retries"):
        text += f" ({_g(retries)} retries"
        base, cap = _get(cfg, "workload.backoff_base"), _get(cfg, "workload.backoff_cap")
        if txn and base is not None and cap is not None and not sw("workload.backoff_base"):
            text += f", back-off {_dur(base)}…{_dur(cap)}"
        text += ")"
    return text


def _keys(cfg: dict, sw: _Swept) -> str | None:
    w = _get(cfg, "workload")
    if not isinstance(w, dict):
        return None
    n_key = "accounts" if "accounts" in w else "keys"
    n = None if sw(f"workload.{n_key}") or w.get(n_key) is None else f"{_g(w[n_key])} {n_key}"
    dist = w.get("distribution")
    if isinstance(dist, str):
        dist = {"type": dist}
    if not isinstance(dist, dict) or sw("workload.distribution.type") and sw("workload.distribution.theta"):
        return n
    typ = None if sw("workload.distribution.type") else dist.get("type")
    theta = None if sw("workload.distribution.theta") else dist.get("theta")
    hot_f = None if sw("workload.distribution.hot_fraction") else dist.get("hot_fraction")
    hot_p = None if sw("workload.distribution.hot_probability") else dist.get("hot_probability")
    if typ in ("zipfian", "latest"):
        text = typ + (f" θ = {_g(theta)}" if theta is not None else "")
    elif typ == "hotspot":
        if hot_f is not None and hot_p is not None:
            text = f"hotspot ({_pct(hot_p)} of operations on {_pct(hot_f)} of the keys)"
        else:
            text = "hotspot"
    elif typ is not None:
        text = str(typ)
    else:  # the type is swept: say which fixed parameters apply to which type
        bits = []
        if theta is not None:
            bits.append(f"θ = {_g(theta)} for zipfian/latest")
        if hot_f is not None and hot_p is not None:
            bits.append(f"hotspot {_pct(hot_p)} on {_pct(hot_f)}")
        text = "; ".join(bits)
    if n:
        text = f"{text} over {n}" if text else n
    return text or None


def _pct(v: Any) -> str:
    f = _num(v)
    return f"{f * 100:g}%" if f is not None else str(v)


def _latency(lat: Any) -> str | None:
    if lat is None:
        return None
    if not isinstance(lat, dict):
        return f"constant {_dur(lat)}"
    d = lat.get("dist")
    if d == "constant":
        return f"constant {_dur(lat.get('value'))}"
    if d == "uniform":
        return f"uniform {_dur(lat.get('low'))}…{_dur(lat.get('high'))}"
    if d == "normal":
        return f"normal {_dur(lat.get('mean'))} ± {_dur(lat.get('std'))}"
    if d == "exponential":
        return f"exponential, mean {_dur(lat.get('mean'))}"
    if d == "lognormal":
        return f"lognormal, median {_dur(lat.get('median'))}, σ {_g(lat.get('sigma'))}"
    if d == "pareto":
        return f"pareto, scale {_dur(lat.get('scale'))}, shape {_g(lat.get('shape'))}"
    rest = ", ".join(f"{k} {_dur(v) if k in ('mean', 'std', 'median', 'value', 'low', 'high', 'scale') else _g(v)}"
                     for k, v in lat.items() if k != "dist")
    return f"{d} {rest}".strip()


def _loss(cfg: dict, sw: _Swept) -> str | None:
    loss = _get(cfg, "network.loss")
    links = _get(cfg, "network.links")
    lossy = [link for link in links if isinstance(link, dict) and link.get("loss") is not None] \
        if isinstance(links, list) and not sw("network.links") else []
    if sw("network.loss"):
        return None
    if loss is None and not lossy:
        return None
    text = _g(loss if loss is not None else 0)
    if lossy:
        vals = sorted({_g(link["loss"]) for link in lossy})
        text += (f" (overridden per link: {len(lossy)} network.links "
                 f"entr{'y sets' if len(lossy) == 1 else 'ies set'} loss {', '.join(vals)})")
    return text


def _bandwidth(v: Any) -> str:
    f = _num(v)
    if f is None:
        return str(v)
    for div, unit in ((1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s")):
        if f >= div:
            return f"{f / div:g} {unit}"
    return f"{f:g} B/s"


# ---------------------------------------------------------------------------------------------
# Faults

def describe_faults(faults: Any, sw: _Swept | None = None) -> str:
    """"crash leader for 500ms at 2s, 3s, 4s; isolate leader for 500ms at 5s", "random crashes
    of any node every ~1s (mttr ~300ms)", or "none"."""
    sw = sw or _Swept([])
    if not isinstance(faults, dict):
        return "none"
    parts: list[str] = []
    crash = faults.get("crash")
    if isinstance(crash, dict) and not _all_swept(sw, "faults.crash", crash):
        approx = "" if crash.get("dist") == "constant" else "~"
        target = None if sw("faults.crash.target") else crash.get("target", "any")
        bits = []
        if not sw("faults.crash.mtbf") and crash.get("mtbf") is not None:
            bits.append(f"every {approx}{_dur(crash['mtbf'])}")
        if not sw("faults.crash.mttr") and crash.get("mttr") is not None:
            bits.append(f"down {approx}{_dur(crash['mttr'])}")
        parts.append("random crashes" + (f" of {_who(target)}" if target else "") +
                     (f" ({', '.join(bits)})" if bits else ""))
    part = faults.get("partition")
    if isinstance(part, dict) and not _all_swept(sw, "faults.partition", part):
        k = part.get("kind", "random")
        name = {"isolate-leader": "leader isolations", "majority-minority": "majority/minority partitions"}.get(
            k, "random partitions")
        if part.get("one_way"):
            name = "one-way " + name
        bits = []
        if not sw("faults.partition.mtbf") and part.get("mtbf") is not None:
            bits.append(f"every ~{_dur(part['mtbf'])}")
        if not sw("faults.partition.duration") and part.get("duration") is not None:
            bits.append(f"lasting {_dur(part['duration'])}")
        parts.append(name + (f" ({', '.join(bits)})" if bits else ""))
    slow = faults.get("slow")
    if isinstance(slow, dict) and not _all_swept(sw, "faults.slow", slow):
        bits = []
        if not sw("faults.slow.mtbf") and slow.get("mtbf") is not None:
            bits.append(f"every ~{_dur(slow['mtbf'])}")
        if not sw("faults.slow.duration") and slow.get("duration") is not None:
            bits.append(f"lasting {_dur(slow['duration'])}")
        factor = "" if sw("faults.slow.factor") else f" ×{_g(slow.get('factor', 10))}"
        target = None if sw("faults.slow.target") else slow.get("target", "any")
        parts.append(f"slow{factor} " + (_who(target) if target else "nodes") +
                     (f" ({', '.join(bits)})" if bits else ""))
    for kind in KINDS:  # a kind described by its name: every ~mtbf, lasting duration
        section = faults.get(kind.name)
        if kind.name in ("crash", "partition", "slow") or not isinstance(section, dict) or \
                _all_swept(sw, f"faults.{kind.name}", section):
            continue
        bits = [f"{key} {approx}{_dur(section[k])}" for k, key, approx in
                (("mtbf", "every", "~"), ("duration", "lasting", "")) if section.get(k) is not None
                and not sw(f"faults.{kind.name}.{k}")]
        target = None if sw(f"faults.{kind.name}.target") else section.get("target", "any")
        parts.append(f"random {kind.name}s" + (f" of {_who(target)}" if target else "") +
                     (f" ({', '.join(bits)})" if bits else ""))
    schedule = faults.get("schedule")
    if isinstance(schedule, list) and schedule and not sw("faults.schedule"):
        parts.append(_schedule(schedule))
    return "; ".join(p for p in parts if p) or "none"


def _all_swept(sw: _Swept, prefix: str, d: dict) -> bool:
    return sw(prefix) and all(sw(f"{prefix}.{k}") for k in d)


def _who(target: Any) -> str:
    if isinstance(target, list):
        return "nodes " + ",".join(str(t) for t in target)
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return f"node {target}"
    return {"any": "any node"}.get(str(target), str(target))


def _schedule(steps: list) -> str:
    groups: dict[str, list[str]] = {}
    for step in steps:
        if not isinstance(step, dict):
            continue
        action = step.get("action")
        target = step.get("target")
        if action is None:  # shorthand {at, crash: leader, for}
            for a in ACTIONS:
                if a in step:
                    action, target = a, step[a]
                    break
        if action is None:
            continue
        what = str(action)
        if action != "heal" and target is not None:
            what += f" {_who(target)}" if action != "partition" else f" {_who(target)} off"
        if action == "slow":
            what += f" ×{_g(step.get('factor', 10))}"
        if step.get("one_way") and action in ("isolate", "partition"):
            what += " (one-way)"
        if step.get("for") is not None:
            what += f" for {_dur(step['for'])}"
        groups.setdefault(what, []).append(_dur(step.get("at")))
    return "; ".join(f"{what} at {', '.join(ats)}" for what, ats in groups.items())


def timeout_seconds(cfg: dict) -> float | None:
    return DURATION.read(_get(cfg, "workload.timeout"))

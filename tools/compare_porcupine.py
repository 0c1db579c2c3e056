"""Time ``distbench check``'s linearizability search against Porcupine's on repeated-values
histories, the same histories for both, each checker's own parse excluded: generated ones
(tests/register_histories.py ``memstress``: one cas-register, 5 values, 32 processes, a tenth of
the calls given up on), or with ``--knossos DIR`` (a checkout of jepsen-io/knossos) the
``memstress`` cas-register histories of Knossos' test data.

Needs Go (1.16 or newer) and Porcupine: ``--porcupine DIR`` is a checkout of
github.com/anishathalye/porcupine (else Go fetches v1.3.0). The driver is
``tools/porcupine_compare/main.go``. Usage::

    python tools/compare_porcupine.py --porcupine ~/src/porcupine --ops 100 200 400 --seeds 5
    python tools/compare_porcupine.py --porcupine ~/src/porcupine --knossos ~/src/knossos
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness.checkers import external  # noqa: E402
from harness.checkers.linearizability import check_linearizability  # noqa: E402
from harness.history import FAIL, INFO  # noqa: E402
from register_histories import memstress  # noqa: E402


def to_json(history) -> list[dict]:
    """Porcupine's operations (times in ns; ``ret`` -1 for a call given up on; a call that
    failed, and so never took effect, left out)."""
    calls = []
    for i in range(len(history)):
        if history.status[i] == FAIL:
            continue
        given_up = history.status[i] == INFO
        calls.append({"client": history.client[i], "op": history.op[i], "value": history.value[i],
                      "expected": history.expected[i], "result": 0 if given_up else history.result[i],
                      "call": int(history.t_invoke[i] * 1e9),
                      "ret": -1 if given_up else int(history.t_return[i] * 1e9)})
    return calls


def build(porcupine: Path | None, work: Path) -> Path:
    """The driver, built against ``porcupine`` (a checkout) or the published v1.3.0."""
    src = work / "driver"
    shutil.copytree(ROOT / "tools" / "porcupine_compare", src)
    if porcupine is not None:
        subprocess.run(["go", "mod", "edit", "-replace",
                        f"github.com/anishathalye/porcupine={porcupine.resolve()}"], cwd=src, check=True)
    binary = work / "porcupine_compare"
    subprocess.run(["go", "build", "-mod=mod", "-o", str(binary), "."], cwd=src, check=True)
    return binary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--porcupine", type=Path, help="a checkout of Porcupine (default: fetch v1.3.0)")
    parser.add_argument("--ops", type=int, nargs="+", default=[100, 200, 400])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--info", type=float, default=0.1, help="share of calls given up on")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds Porcupine may take a history")
    parser.add_argument("--knossos", type=Path, help="a checkout of Knossos: its memstress histories instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        binary = build(args.porcupine, work)
        if args.knossos is not None:
            files = sorted((args.knossos / "data" / "cas-register" / "good").glob("memstress*.edn"))
            rows = [(f.name, [external.load(f, "jepsen-edn", "cas-register").history]) for f in files]
        else:
            rows = [(f"memstress {n} ops", [memstress(n, processes=32, info=args.info, seed=seed)
                                            for seed in range(1, args.seeds + 1)]) for n in args.ops]
        print("histories  distbench s (median)  porcupine s (median)  ratio  verdicts agree "
              "(inf: Porcupine over --timeout)")
        totals = [0.0, 0.0]
        for name, histories in rows:
            ours, theirs, agree = [], [], True
            for k, history in enumerate(histories):
                path = work / f"h{k}.json"
                path.write_text(json.dumps(to_json(history)))
                started = time.process_time()
                verdict = check_linearizability(history, 50_000_000).status == "ok"
                ours.append(time.process_time() - started)
                try:
                    _, ok, seconds = subprocess.run([str(binary), str(path)], capture_output=True, text=True,
                                                    check=True, timeout=args.timeout).stdout.split()
                except subprocess.TimeoutExpired:
                    theirs.append(float("inf"))
                    continue
                theirs.append(float(seconds))
                agree &= verdict == (ok == "true")
            a, b = statistics.median(ours), statistics.median(theirs)
            totals[0] += sum(ours)
            totals[1] += sum(theirs)
            print(f"{name}  {a:.4f}  {b:.4f}  {a / b if b else float('inf'):.2f}  {agree}")
        if totals[1]:
            print(f"total  {totals[0]:.3f}  {totals[1]:.3f}  {totals[0] / totals[1]:.2f}")

if __name__ == "__main__":
    main()

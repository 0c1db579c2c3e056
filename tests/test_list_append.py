"""``distbench check --model list-append``: Elle's list-append histories judged for
serializability, each anomaly named as Elle names it, bad input refused in one line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.cli import main


def history(*events: str) -> str:
    return "\n".join(events) + "\n"


def txn(process: int, ops: str, typ: str = "ok") -> str:
    return (f"{{:process {process}, :type :invoke, :f :txn, :value [{ops}]}}\n"
            f"{{:process {process}, :type :{typ}, :f :txn, :value [{ops}]}}")


def check(tmp_path, text: str):
    path = tmp_path / "history.edn"
    path.write_text(text)
    return CliRunner().invoke(main, ["check", str(path), "--model", "list-append"])


CASES = {
    "serial": (history(txn(0, "[:append :x 1] [:r :y nil]".replace("nil", "[]")),
                       txn(1, "[:r :x [1]] [:append :y 2]"), txn(0, "[:r :x [1]] [:r :y [2]]")), ""),
    "G0": (history(txn(0, "[:append :x 1] [:append :y 2]"), txn(1, "[:append :x 3] [:append :y 4]"),
                   txn(2, "[:r :x [1 3]] [:r :y [4 2]]")), "G0: T1 -ww(:x)-> T3 -ww(:y)-> T1"),
    "G1a": (history(txn(0, "[:append :x 1]", "fail"), txn(1, "[:r :x [1]]")),
            "G1a: T3 read 1 of key :x, appended by T1, which failed"),
    "G1b": (history(txn(0, "[:append :x 1] [:append :x 2]"), txn(1, "[:r :x [1]]")),
            "G1b: T3 read key :x as [1], an intermediate state of T1, which appended 2 after 1"),
    "G1c": (history(txn(0, "[:append :x 1] [:r :y [2]]"), txn(1, "[:append :y 2] [:r :x [1]]")),
            "G1c: T1 -wr(:x)-> T3 -wr(:y)-> T1"),
    "G-single": (history(txn(0, "[:append :x 1] [:append :y 1]"), txn(1, "[:r :x [1]] [:r :y []]")),
                 "G-single: T1 -wr(:x)-> T3 -rw(:y)-> T1"),
    "G2-item": (history(txn(0, "[:r :x []] [:append :y 1]"), txn(1, "[:r :y []] [:append :x 1]")),
                "G2-item: T1 -rw(:x)-> T3 -rw(:y)-> T1"),
    "incompatible-order": (history(txn(0, "[:append :x 1]"), txn(1, "[:append :x 2]"),
                                   txn(2, "[:r :x [1 2]]"), txn(3, "[:r :x [2 1]]")),
                           "incompatible-order: key :x read as [1 2] by T5 and as [2 1] by T7: neither is a prefix of the other"),
    "internal": (history(txn(0, "[:append :x 6] [:r :x []]")),
                 "internal: T1 read key :x as [] after its own appends, expected [... 6]"),
    "internal-stale": (history(txn(0, "[:r :x []] [:append :x 3] [:r :x [3 4]]")),
                       "internal: T1 read key :x as [3 4] after its own appends, expected [3]"),
    "internal-future": (history(txn(0, "[:r :x [1]] [:append :x 1]")),
                        "internal: T1 read key :x as [1], holding a value it appends only later"),
    "own-reads": (history(txn(0, "[:r :x []] [:append :x 1] [:r :x [1]] [:append :x 2] [:r :x [1 2]]"),
                          txn(1, "[:append :y 3] [:r :y [3]]"), txn(2, "[:r :x [1 2]] [:r :y [3]]")), ""),
    "duplicate-elements": (history(txn(0, "[:append :x 1]"), txn(1, "[:r :x [1 1]]")),
                           "duplicate-elements: T3 read key :x as [1 1]"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_anomaly_is_found_and_named(tmp_path, name):
    text, expected = CASES[name]
    result = check(tmp_path, text)
    if not expected:
        assert result.exit_code == 0 and result.output.startswith("valid: 3 transactions are serializable"), \
            result.output
        return
    assert result.exit_code == 1, result.output
    assert f"(list-append): {expected} (Tn: the transaction invoked at line n)" in result.output, result.output


def test_an_info_transaction_counts_once_a_read_saw_it(tmp_path):
    # T1 may or may not have happened; T3 saw its append, so it did, and the cycle is real
    text = history("{:process 0, :type :invoke, :value [[:append :x 1] [:r :y nil]]}",
                   "{:process 0, :type :info, :value [[:append :x 1] [:r :y nil]]}",
                   txn(1, "[:append :y 2] [:r :x [1]]"), txn(2, "[:r :y [2]]"))
    assert check(tmp_path, text).exit_code == 0  # T1's read of y is unknown: no edge from it
    unseen = history("{:process 0, :type :invoke, :value [[:append :x 1]]}",
                     "{:process 0, :type :info, :value [[:append :x 1]]}", txn(1, "[:r :x []]"))
    assert check(tmp_path, unseen).exit_code == 0


BAD = [
    ("{:process 0, :type :invoke, :f :read, :value nil}\n",
     "line 1: :f must be :txn for the list-append model, got :read"),
    ("{:process 0, :type :ok, :value [[:r :x []]]}\n",
     "line 1: :ok of process 0 completes no invocation"),
    ("{:process 0, :type :invoke, :value [[:append :x 1]]}\n{:process 0, :type :invoke, :value [[:r :x nil]]}\n",
     "line 2: process 0 invokes again while its call of line 1 is still open"),
    ("{:process 0, :type :invoke, :value [[:append :x 1]]}\n{:process 0, :type :ok, :value [[:append :x 1]\n",
     "line 2: truncated: the map opened here is not closed at the end of the file"),
    ("hello world\n", "line 1: not EDN: expected a map {:type ... :f ... :process ...}, found 'hello'"),
    ("{:process 0, :type :invoke, :value [[:write :x 1]]}\n",
     "line 1: expected [:append k v] or [:r k values], got [:write :x 1]"),
    ("{:process 0, :type :invoke, :value [[:r :x 5]]}\n", "line 1: a read's value must be a vector or nil, got 5"),
    (history(txn(0, "[:append :x 1]"), txn(1, "[:append :x 1]")),
     "line 3: 1 is appended to key :x again (first at line 1): list-append needs each value appended once per key"),
]


@pytest.mark.parametrize("text, expected", BAD)
def test_bad_input_is_one_line_naming_the_line(tmp_path, text, expected):
    result = check(tmp_path, text)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(f"history.edn: {expected}"), result.output
    assert "Traceback" not in result.output


def test_other_formats_are_refused(tmp_path):
    path = tmp_path / "h.edn"
    path.write_text(txn(0, "[:append :x 1]"))
    result = CliRunner().invoke(main, ["check", str(path), "--model", "list-append", "--format", "porcupine"])
    assert result.exit_code == 2 and "list-append histories are read as jepsen-edn" in result.output

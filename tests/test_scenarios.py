"""The scenario scripts of tests/scenarios/<protocol>/*.txt, each run by the one shared driver
(harness.testing.scenario). ``DISTBENCH_REWRITE=1 pytest tests/test_scenarios.py`` rewrites their
expected blocks after an intended change: review the diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.testing.scenario import run_scenario
from harness.testing.scripts import ScriptError, ScriptMismatch, run_file

SCRIPTS = sorted((Path(__file__).parent / "scenarios").glob("*/*.txt"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_scenario(path: Path) -> None:
    run_scenario(path)


# -- the driver itself ----------------------------------------------------------------------------

SCRIPT = """\
# a comment is kept
cluster raft nodes=3
----
ok

put 1 x=1:1
----
1 reply Reply request=x status=redirect value=none leader=none
"""


def test_a_wrong_expectation_fails_with_file_line_and_diff(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text(SCRIPT.replace("leader=none\n", "leader=2\n"))
    with pytest.raises(ScriptMismatch) as caught:
        run_scenario(path, rewrite=False)
    message = str(caught.value)
    assert message.startswith(f"{path}:6: put 1 x=1:1\n")
    assert "-1 reply Reply request=x status=redirect value=none leader=2" in message
    assert "+1 reply Reply request=x status=redirect value=none leader=none" in message


def test_rewrite_mode_writes_what_the_commands_printed_and_keeps_the_rest(tmp_path, monkeypatch) -> None:
    path = tmp_path / "s.txt"
    path.write_text(SCRIPT.replace("ok\n", "").replace("leader=none\n", "stale\nlines\n"))
    monkeypatch.setenv("DISTBENCH_REWRITE", "1")
    run_scenario(path)
    assert path.read_text() == SCRIPT
    monkeypatch.setenv("DISTBENCH_REWRITE", "0")
    run_scenario(path)  # and now it passes as written


@pytest.mark.parametrize("text, error", [
    ("cluster raft nodes=3\n----\nok\n\nfly 1\n----\nok\n", "s.txt:5: fly 1: unknown command 'fly'"),
    ("cluster raft nodes=3\nok\n", "s.txt:1: expected a '----' line after the command 'cluster raft nodes=3'"),
    ("cluster raft nodes=3 warp=9\n----\nok\n", "s.txt:1: cluster raft nodes=3 warp=9: raft has no option 'warp'"),
    ("cluster paxos9\n----\nok\n", "s.txt:1: cluster paxos9: no protocol named 'paxos9'"),
    ("put 1 x=1:1\n----\nok\n", "no cluster yet"),
    ("cluster raft nodes=3\n----\nok\n\ncrash 7\n----\nok\n", "s.txt:5: crash 7: no node 7 (nodes are 0..2)"),
    ("cluster raft nodes=3\n----\nok\n\nfire 1\n----\nok\n", "s.txt:5: fire 1: usage: fire N TIMER"),
    ("cluster raft nodes=3\n----\nok\n\ndeliver 1-2\n----\nok\n", "not a message filter: '1-2'"),
    ("cluster raft nodes=3\n----\nok\n\nbegin t1\n----\nok\n", "need a transaction protocol"),
])
def test_a_script_that_cannot_run_says_where_and_why(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "s.txt"
    path.write_text(text)
    with pytest.raises(ScriptError) as caught:
        run_scenario(path, rewrite=False)
    assert error in str(caught.value)


def test_a_protocol_failure_names_the_command_that_caused_it(tmp_path: Path) -> None:
    def handler(command: str) -> list[str]:
        if command == "boom":
            raise ZeroDivisionError("in a handler")
        return ["ok"]

    path = tmp_path / "s.txt"
    path.write_text("calm\n----\nok\n\nboom\n----\nok\n")
    with pytest.raises(ZeroDivisionError) as caught:
        run_file(path, handler, rewrite=False)
    assert caught.value.__notes__ == [f"while running {path}:5: boom"]


def test_filters_pick_by_direction_type_field_and_count(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("cluster raft nodes=3\n----\nok\n\ncampaign 0 quiet\n----\nok\n\n"
                    "pending type=RequestVote term=1 n=1\n----\n"
                    "0->1 RequestVote term=1 last_index=0 last_term=0 prevote=false\n\n"
                    "pending 0->2 prevote!=true\n----\n"
                    "0->2 RequestVote term=1 last_index=0 last_term=0 prevote=false\n\n"
                    "pending ->0\n----\nnone\n")
    run_scenario(path, rewrite=False)

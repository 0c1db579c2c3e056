"""The example GitHub Actions workflows (examples/github-actions/): actionlint finds nothing in
them, every distbench command they call exists with its options, and a dry run of their shell
steps against fake events does what they promise.

The dry run (tests/workflow_dryrun.py) runs each ``run:`` step with bash in a temporary
workspace. Steps that ``uses:`` an action are not run; their effects are faked (an artifact
uploaded by the gate and downloaded by the comment workflow, a cache miss). ``distbench``,
``gh`` and ``python -m pip`` are stubs that record their calls: ``distbench gate`` writes its
outputs and exits with the code a test chooses, ``gh api`` answers from a fixture (through the
real ``jq``, as ``gh --jq`` would).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
import yaml

from harness.cli import main
from report_fixtures import LONG_IGNORE, make_long_pair
from workflow_dryrun import DryRun

EXAMPLES = Path(__file__).parent.parent / "examples" / "github-actions"
GATE = EXAMPLES / "distbench-gate.yml"
COMMENT = EXAMPLES / "distbench-gate-comment.yml"
BASE, HEAD = "b" * 40, "h" * 40
MARKER = "<!-- distbench-gate:configs/quickstart.yaml -->"
PR_EVENT = {"number": 17, "pull_request": {"number": 17, "base": {"sha": BASE, "ref": "main"}, "head": {"sha": HEAD}},
            "repository": {"full_name": "octo/app"}}
JUNIT = """<?xml version='1.0' encoding='us-ascii'?>
<testsuite name="distbench compare quickstart" tests="3" failures="1" skipped="1" errors="0">
  <testcase classname="quickstart.throughput_ops_s" name="protocol=raft, network.loss=0.01">
    <failure message="regression: throughput_ops_s: 9000 -&gt; 8000 (-11.1%, p=0.010)" />
  </testcase>
  <testcase classname="quickstart.latency_p99_ms" name="protocol=raft, network.loss=0.01">
    <skipped message="not enough evidence: a | in a message" />
  </testcase>
  <testcase classname="quickstart.safety" name="protocol=raft seed=1" />
</testsuite>
"""


def _stub(path: Path, body: str) -> None:
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)


def _stubs(root: Path, gate_exit: int = 0, writes: bool = True, gh: dict | None = None,
           compare: list[str] | None = None) -> Path:
    """A directory of stubs for the PATH; each appends its calls to calls.jsonl beside it. With
    ``compare`` (BASE NEW and options), ``distbench gate`` writes its outputs with the real
    ``distbench compare`` of those results directories, given the gate's output options."""
    stubs = root / "stubs"
    stubs.mkdir(parents=True)
    (stubs / "junit.xml").write_text(JUNIT)
    (stubs / "gh.json").write_text(json.dumps(gh or {}))
    log = f"open({str(stubs / 'calls.jsonl')!r}, 'a')"
    _stub(stubs / "distbench", f"""\
        import json, os, subprocess, sys
        from pathlib import Path
        args = sys.argv[1:]
        print(json.dumps({{"cmd": "distbench", "args": args, "cache": os.environ.get("DISTBENCH_CACHE")}}), file={log})
        def opt(name):
            return Path(args[args.index(name) + 1])
        if args[0] == "gate":
            if {compare!r}:
                own = ("--base", "--out", "--auto-seeds")      # the gate's options that compare has not
                outputs = [a for i, a in enumerate(args) if i > 1 and a not in own and args[i - 1] not in own]
                subprocess.run([sys.executable, "-m", "harness", "compare", *{compare!r}, *outputs], check=False)
            elif {writes!r}:
                report = "### ❌ distbench compare `quickstart`: regression\\n\\n**1 regression(s).**\\n"
                opt("--md").write_text(report)
                opt("--comment").write_text(report)
                opt("--json").write_text(json.dumps({{"exit_code": {gate_exit}}}))
                opt("--junit").write_text(Path(__file__).with_name("junit.xml").read_text())
            sys.exit({gate_exit})
        """)
    _stub(stubs / "python", f"""\
        import json, os, sys
        if sys.argv[1:3] == ["-m", "pip"]:
            print(json.dumps({{"cmd": "pip", "args": sys.argv[3:]}}), file={log})
            sys.exit(0)
        os.execv({sys.executable!r}, [{sys.executable!r}, *sys.argv[1:]])
        """)
    _stub(stubs / "gh", f"""\
        import json, subprocess, sys
        from pathlib import Path
        args, method, jq, fields, endpoint, paginate = sys.argv[2:], "GET", None, {{}}, None, False
        assert sys.argv[1] == "api", sys.argv
        while args:
            a = args.pop(0)
            if a in ("--method", "-X"):
                method = args.pop(0)
            elif a in ("--jq", "-q"):
                jq = args.pop(0)
            elif a in ("-F", "--field"):
                key, value = args.pop(0).split("=", 1)
                fields[key] = Path(value[1:]).read_text() if value.startswith("@") else value
            elif a in ("--paginate", "--silent"):
                paginate = paginate or a == "--paginate"
            else:
                assert not a.startswith("-"), f"gh stub: unknown option {{a}}"
                endpoint = a
        print(json.dumps({{"cmd": "gh", "method": method, "endpoint": endpoint, "fields": fields,
                          "paginate": paginate}}), file={log})
        if method == "GET":
            answer = json.loads(Path(__file__).with_name("gh.json").read_text()).get(endpoint)
            if answer is None:
                sys.exit(f"gh: Not Found (HTTP 404): {{endpoint}}")
            pages = answer["pages"] if isinstance(answer, dict) and "pages" in answer else [answer]
            for page in pages if paginate else pages[:1]:
                if jq is None:
                    print(json.dumps(page))
                else:
                    sys.stdout.write(subprocess.run(["jq", "-r", jq], input=json.dumps(page), text=True,
                                                    capture_output=True, check=True).stdout)
        """)
    return stubs


def _calls(stubs: Path, cmd: str) -> list[dict]:
    log = stubs / "calls.jsonl"
    lines = log.read_text().splitlines() if log.exists() else []
    return [c for c in map(json.loads, lines) if c["cmd"] == cmd]


def _gate(tmp_path: Path, gate_exit: int, writes: bool = True, compare: list[str] | None = None):
    stubs = _stubs(tmp_path, gate_exit, writes, compare=compare)
    return DryRun(GATE, "pull_request", PR_EVENT, tmp_path, stubs=stubs).run(), stubs


# --- lint and commands ----------------------------------------------------------------------------

def test_actionlint_finds_nothing():
    """actionlint (with shellcheck on the PATH it checks the run: scripts too)."""
    bin_dir = Path(sys.executable).parent
    actionlint = shutil.which("actionlint", path=f"{bin_dir}:{shutil.os.environ.get('PATH', '')}")
    assert actionlint, "actionlint is not installed: pip install -e '.[test]'"
    proc = subprocess.run([actionlint, "-no-color", *map(str, sorted(EXAMPLES.glob("*.yml")))],
                          capture_output=True, text=True, env={**shutil.os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _distbench_commands() -> list[list[str]]:
    """The argument lists of every `distbench` invocation in the workflows' run steps, with the
    workflow's `env:` variables substituted."""
    commands = []
    for path in sorted(EXAMPLES.glob("*.yml")):
        spec = yaml.safe_load(path.read_text())
        env = {k: str(v) for k, v in (spec.get("env") or {}).items()}
        for job in spec["jobs"].values():
            for step in job["steps"]:
                for line in step.get("run", "").replace("\\\n", " ").splitlines():
                    if not line.strip().startswith("distbench "):
                        continue
                    line = re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), m.group(0)), line)
                    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
                    lexer.whitespace_split = True
                    words = list(lexer)
                    end = next((i for i, w in enumerate(words) if set(w) <= set("();<>|&")), len(words))
                    commands.append(words[1:end])
    return commands


@pytest.mark.parametrize("args", [pytest.param(args, id=args[0]) for args in _distbench_commands()])
def test_every_distbench_command_exists_with_its_options(args):
    command = main.get_command(click.Context(main), args[0])
    assert command is not None, f"distbench {args[0]} does not exist"
    command.make_context(args[0], list(args[1:]))   # raises on an unknown option or a bad value


def test_the_workflows_call_gate_and_run():
    assert sorted(c[0] for c in _distbench_commands()) == ["gate", "run"]


def test_the_command_check_would_catch_a_misspelt_option():
    command = main.get_command(click.Context(main), "compare")
    with pytest.raises(click.UsageError):
        command.make_context("compare", ["a", "b", "--markdown", "x.md"])


def test_only_the_workflow_that_runs_no_pull_request_code_can_write():
    gate, comment = (yaml.safe_load(p.read_text()) for p in (GATE, COMMENT))
    assert gate["permissions"] == {"contents": "read"}
    assert comment["permissions"] == {"pull-requests": "write", "actions": "read"}
    assert comment[True]["workflow_run"]["workflows"] == [gate["name"]]      # YAML 1.1 reads `on` as True
    steps = comment["jobs"]["comment"]["steps"]
    assert not [s for s in steps if "checkout" in s.get("uses", "")]
    assert not [s for s in steps if re.search(r"^\s*(distbench|pip|python3?|bash|\.)\b", s.get("run", ""), re.M)]


# --- the gate workflow ----------------------------------------------------------------------------

def test_a_failing_gate_still_writes_the_report_summary_and_artifact_then_fails_the_job(tmp_path):
    run, stubs = _gate(tmp_path, gate_exit=1)
    job = run.jobs["gate"]
    assert run.jobs["warm-cache"].status == "skipped"
    assert job.step("Gate the pull request against its base").outcome == "success"
    assert job.status == "failure" and job.steps[-1].code == 1, job.steps[-1]
    assert [s.outcome for s in job.steps[-4:]] == ["success", "success", "success", "failure"]
    # the JUnit results, as a table in the job summary
    assert "3 tests, 1 failed, 0 errors, 1 skipped, 1 passed." in run.summary
    assert ("| failure | quickstart.throughput_ops_s: protocol=raft, network.loss=0.01 | "
            "regression: throughput_ops_s: 9000 -> 8000 (-11.1%, p=0.010) |") in run.summary
    assert "not enough evidence: a \\| in a message |" in run.summary
    # everything the comment workflow needs, in the artifact
    artifact = run.artifacts / "distbench-gate"
    assert sorted(p.name for p in artifact.iterdir()) == ["comment.md", "gate.json", "gate.md", "gate.xml", "pr-number"]
    assert (artifact / "pr-number").read_text() == "17\n"
    assert (artifact / "gate.md").read_text().startswith("### ❌ distbench compare")
    # the base commit keys the run cache, saved even though the job fails
    assert run.caches == [("restore", f"distbench-runs-v1-{BASE}"), ("save", f"distbench-runs-v1-{BASE}")]
    [pip] = _calls(stubs, "pip")
    assert pip["args"] == ["install", "-e", "."]          # editable: the manifests record the commit
    [gate] = _calls(stubs, "distbench")
    args = gate["args"]
    assert args[:4] == ["gate", "configs/quickstart.yaml", "--base", BASE]
    assert args[args.index("--md-limit") + 1] == "60000"
    assert args[args.index("--auto-seeds") + 1] == "20"
    assert gate["cache"] == str(tmp_path / "runner-temp" / "distbench-cache")


def test_a_passing_gate_passes_the_job(tmp_path):
    run, _ = _gate(tmp_path, gate_exit=0)
    assert run.jobs["gate"].status == "success", run.jobs["gate"].steps
    assert "3 tests, 1 failed" in run.summary


def test_a_gate_that_wrote_nothing_still_uploads_the_number_and_fails_with_its_code(tmp_path):
    run, _ = _gate(tmp_path, gate_exit=2, writes=False)
    job = run.jobs["gate"]
    assert job.status == "failure" and job.steps[-1].code == 2
    assert "No JUnit results" in run.summary
    assert [p.name for p in (run.artifacts / "distbench-gate").iterdir()] == ["pr-number"]


def test_a_push_to_main_only_fills_the_run_cache_for_its_commit(tmp_path):
    stubs = _stubs(tmp_path)
    sha = "c" * 40
    run = DryRun(GATE, "push", {"after": sha, "ref": "refs/heads/main"}, tmp_path, stubs=stubs).run()
    assert run.jobs["gate"].status == "skipped" and run.jobs["warm-cache"].status == "success"
    assert run.caches == [("restore", f"distbench-runs-v1-{sha}"), ("save", f"distbench-runs-v1-{sha}")]
    [call] = _calls(stubs, "distbench")
    assert call["args"][:2] == ["run", "configs/quickstart.yaml"] and call["cache"]
    assert call["args"][call["args"].index("--seeds") + 1] == "20"       # every seed a gate's look may use


# --- the comment workflow -------------------------------------------------------------------------

def _workflow_run(event: str = "pull_request", conclusion: str = "failure") -> dict:
    return {"workflow_run": {"id": 4242, "event": event, "conclusion": conclusion, "head_sha": HEAD,
                             "html_url": "https://github.com/octo/app/actions/runs/4242"}}


def _comments(*pages: list[dict]) -> dict:
    return {"repos/octo/app/pulls/17": {"head": {"sha": HEAD}},
            "repos/octo/app/issues/17/comments": {"pages": list(pages)}}


BOT = {"login": "github-actions[bot]"}
OTHERS = [{"id": 1, "user": {"login": "alice"}, "body": f"{MARKER}\nquoting the bot"},
          {"id": 2, "user": BOT, "body": "<!-- another-workflow -->\nsomething else"}]


def _comment(tmp_path: Path, gh: dict, pr_number: str = "17\n", report: str | None = "### ✅ report\n",
             event: dict | None = None):
    artifacts = tmp_path / "artifacts"
    (artifacts / "distbench-gate").mkdir(parents=True)
    (artifacts / "distbench-gate" / "pr-number").write_text(pr_number)
    if report is not None:
        (artifacts / "distbench-gate" / "gate.md").write_text(f"{report}\nand more, too long for a comment\n")
        (artifacts / "distbench-gate" / "comment.md").write_text(report)
    stubs = _stubs(tmp_path, gh=gh)
    run = DryRun(COMMENT, "workflow_run", event or _workflow_run(), tmp_path, stubs=stubs, artifacts=artifacts).run()
    return run.jobs["comment"], [c for c in _calls(stubs, "gh") if c["method"] != "GET"], _calls(stubs, "gh")


def test_the_gate_report_updates_the_comment_with_its_marker(tmp_path):
    """End to end: the artifact of a failing gate's dry run, posted by the comment workflow."""
    gate_run, _ = _gate(tmp_path / "gate", gate_exit=1)
    mine = {"id": 99, "user": BOT, "body": f"{MARKER}\nan older report"}
    stubs = _stubs(tmp_path / "comment", gh=_comments(OTHERS, [mine]))
    run = DryRun(COMMENT, "workflow_run", _workflow_run(), tmp_path / "comment", stubs=stubs,
                 artifacts=gate_run.artifacts).run()
    assert run.jobs["comment"].status == "success", run.jobs["comment"].steps
    [write] = [c for c in _calls(stubs, "gh") if c["method"] != "GET"]
    assert (write["method"], write["endpoint"]) == ("PATCH", "repos/octo/app/issues/comments/99")
    report = (gate_run.artifacts / "distbench-gate" / "comment.md").read_text()
    assert write["fields"]["body"] == f"{MARKER}\n{report}"


@pytest.fixture(scope="module")
def long_pair(tmp_path_factory) -> list[str]:
    """A comparison whose report is longer than a comment may be: BASE NEW and its options."""
    return [*map(str, make_long_pair(tmp_path_factory.mktemp("long"))), *LONG_IGNORE]


def test_an_oversized_report_is_whole_in_the_artifact_and_cut_with_a_pointer_in_the_comment(tmp_path, long_pair):
    """The gate's real outputs for a report over GitHub's 65,536-character limit."""
    gate_run, _ = _gate(tmp_path / "gate", gate_exit=1, compare=long_pair)
    artifact = gate_run.artifacts / "distbench-gate"
    full = (artifact / "gate.md").read_text()
    assert len(full) > 65_536 and full in gate_run.summary
    stubs = _stubs(tmp_path / "comment", gh=_comments([]))
    run = DryRun(COMMENT, "workflow_run", _workflow_run(), tmp_path / "comment", stubs=stubs,
                 artifacts=gate_run.artifacts).run()
    assert run.jobs["comment"].status == "success", run.jobs["comment"].steps
    [write] = [c for c in _calls(stubs, "gh") if c["method"] != "GET"]
    body = write["fields"]["body"]
    assert len(body) < 65_536 and body.startswith(f"{MARKER}\n### ")
    run_url = "https://github.com/octo/app/actions/runs/4242"
    assert body.endswith(f"_… cut at 60,000 of {len(full):,} characters; the full report is gate.md in the "
                         f"distbench-gate artifact of [the gate's run]({run_url}), and in its job summary._\n")


def test_without_a_marked_comment_it_posts_a_new_one(tmp_path):
    job, writes, _ = _comment(tmp_path, _comments(OTHERS))
    assert job.status == "success", job.steps
    [write] = writes
    assert (write["method"], write["endpoint"]) == ("POST", "repos/octo/app/issues/17/comments")
    assert write["fields"]["body"] == f"{MARKER}\n### ✅ report\n"


def test_a_run_without_a_report_says_so_in_the_comment(tmp_path):
    job, [write], _ = _comment(tmp_path, _comments([]), report=None)
    assert job.status == "success"
    assert write["fields"]["body"].startswith(f"{MARKER}\n### ⚠️ distbench gate `configs/quickstart.yaml`: no report")
    assert "https://github.com/octo/app/actions/runs/4242" in write["fields"]["body"]


@pytest.mark.parametrize("pr_number", ["17; touch pwned\n", "$(id)", "", "0", "-1", "17 18"])
def test_a_pull_request_number_that_is_not_an_integer_posts_nothing(tmp_path, pr_number):
    job, writes, calls = _comment(tmp_path, _comments([]), pr_number=pr_number)
    assert job.status == "failure" and not writes and not calls
    assert "pr-number is not an integer" in job.steps[-1].output
    assert not (tmp_path / "workspace" / "pwned").exists()


def test_a_number_naming_another_pull_request_posts_nothing(tmp_path):
    gh = _comments([])
    gh["repos/octo/app/pulls/17"] = {"head": {"sha": "f" * 40}}
    job, writes, _ = _comment(tmp_path, gh)
    assert job.status == "failure" and not writes
    assert "not commenting" in job.steps[-1].output


@pytest.mark.parametrize("event", [_workflow_run(event="push"), _workflow_run(conclusion="cancelled")])
def test_runs_of_other_events_or_cancelled_runs_are_left_alone(tmp_path, event):
    job, writes, calls = _comment(tmp_path, _comments([]), event=event)
    assert job.status == "skipped" and not calls

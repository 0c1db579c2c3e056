"""A dry run of a GitHub Actions workflow on this machine, for the tests of the example workflows.

It loads the workflow's YAML, evaluates the ``${{ ... }}`` expressions its jobs and steps use
against a fake event and fake contexts, and runs each ``run:`` step's script with bash in a
temporary workspace, in order, with GitHub's rules for ``if:`` (a step without a status function
runs only while the job succeeds), ``$GITHUB_OUTPUT`` and ``$GITHUB_STEP_SUMMARY``. Steps that
``uses:`` an action are not run: their effects that later steps need are faked (an uploaded or
downloaded artifact, a cache hit or miss); any other action is refused, so that a new one gets
its fake too. Commands that cannot run here are stubs that the test puts first on ``PATH``.

    run = DryRun(path, "pull_request", event, tmp_path, stubs=stub_dir).run()
    run.jobs["gate"].status, run.jobs["gate"].steps[-1].code, run.summary, run.artifacts
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")


@dataclass
class Step:
    name: str
    outcome: str                      # success, failure or skipped
    code: int | None = None
    output: str = ""


@dataclass
class Job:
    status: str = "success"           # success, failure or skipped
    steps: list[Step] = field(default_factory=list)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


@dataclass
class Result:
    jobs: dict[str, Job]
    summary: str
    artifacts: Path
    caches: list[tuple[str, str]]     # (restore|save, key)


class DryRun:
    def __init__(self, workflow: Path, event_name: str, event: dict[str, Any], root: Path, *,
                 stubs: Path, artifacts: Path | None = None, cache_hit: bool = False,
                 github: dict[str, Any] | None = None) -> None:
        self.spec = yaml.safe_load(Path(workflow).read_text())
        self.root = Path(root)
        self.workspace = self.root / "workspace"
        self.temp = self.root / "runner-temp"
        for d in (self.workspace, self.temp, self.root / "home"):
            d.mkdir(parents=True, exist_ok=True)
        self.stubs = Path(stubs)
        self.artifacts = Path(artifacts) if artifacts else self.root / "artifacts"
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.cache_hit = cache_hit
        self.summary_path = self.root / "step-summary.md"
        self.summary_path.touch()
        self.caches: list[tuple[str, str]] = []
        self.github = {"event_name": event_name, "event": event, "repository": "octo/app",
                       "server_url": "https://github.com", "run_id": "4242", "token": "fake-token",
                       "sha": event.get("after") or "0" * 40, "workspace": str(self.workspace),
                       **(github or {})}
        self.runner = {"temp": str(self.temp), "os": "Linux"}
        # GitHub runs `shell: bash` as bash --noprofile --norc -eo pipefail, and no shell as bash -e
        shell = (self.spec.get("defaults") or {}).get("run", {}).get("shell")
        self.bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail"] if shell == "bash" else ["bash", "-e"]

    # --- running -------------------------------------------------------------------------------

    def run(self) -> Result:
        workflow_env = self.spec.get("env") or {}
        jobs: dict[str, Job] = {}
        for name, spec in self.spec["jobs"].items():
            assert not spec.get("needs"), "jobs run in file order here: no `needs`"
            contexts = self._contexts(workflow_env, {})
            env = {**workflow_env, **self._render_map(spec.get("env") or {}, contexts)}
            if not self._condition(spec.get("if"), contexts, failed=False):
                jobs[name] = Job(status="skipped")
                continue
            jobs[name] = self._job(spec, env)
        return Result(jobs, self.summary_path.read_text(), self.artifacts, self.caches)

    def _job(self, spec: dict[str, Any], job_env: dict[str, str]) -> Job:
        job = Job()
        steps: dict[str, dict[str, Any]] = {}
        for i, step in enumerate(spec["steps"]):
            name = step.get("name") or step.get("uses") or f"step {i}"
            contexts = self._contexts(job_env, steps)
            env = {**job_env, **self._render_map(step.get("env") or {}, {**contexts, "env": {
                **job_env, **(step.get("env") or {})}})}
            contexts["env"] = env
            if not self._condition(step.get("if"), contexts, failed=job.status == "failure"):
                job.steps.append(Step(name, "skipped"))
                steps[step.get("id") or f"_{i}"] = {"outcome": "skipped", "conclusion": "skipped", "outputs": {}}
                continue
            if "uses" in step:
                outcome, outputs, code, text = self._action(step["uses"], self._render_map(step.get("with") or {}, contexts))
            else:
                outcome, outputs, code, text = self._script(self._render(step["run"], contexts), env)
            job.steps.append(Step(name, outcome, code, text))
            steps[step.get("id") or f"_{i}"] = {"outcome": outcome, "conclusion": outcome, "outputs": outputs}
            if outcome == "failure" and not step.get("continue-on-error"):
                job.status = "failure"
        return job

    def _script(self, script: str, env: dict[str, str]) -> tuple[str, dict[str, str], int, str]:
        path = self.temp / "step.sh"
        path.write_text(script)
        output = self.root / "github-output"
        output.write_text("")
        full_env = {
            "PATH": os.pathsep.join([str(self.stubs), str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
            "HOME": str(self.root / "home"), "LANG": "C.UTF-8", "CI": "true", "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace), "RUNNER_TEMP": str(self.temp),
            "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(self.summary_path),
            "GITHUB_EVENT_NAME": self.github["event_name"], "GITHUB_REPOSITORY": self.github["repository"],
            "GITHUB_SHA": self.github["sha"], "GITHUB_RUN_ID": self.github["run_id"],
            **{k: str(v) for k, v in env.items()},
        }
        proc = subprocess.run([*self.bash, str(path)], cwd=self.workspace,
                              env=full_env, capture_output=True, text=True, timeout=120)
        return ("success" if proc.returncode == 0 else "failure", _outputs(output.read_text()),
                proc.returncode, proc.stdout + proc.stderr)

    def _action(self, uses: str, inputs: dict[str, str]) -> tuple[str, dict[str, str], int | None, str]:
        action = uses.split("@")[0]
        fakes: dict[str, Callable[[dict[str, str]], tuple[str, dict[str, str]]]] = {
            "actions/checkout": lambda w: ("success", {}),            # the test lays out the workspace
            "actions/setup-python": lambda w: ("success", {}),
            "actions/cache/restore": self._cache_restore,
            "actions/cache/save": self._cache_save,
            "actions/upload-artifact": self._upload,
            "actions/download-artifact": self._download,
        }
        if action not in fakes:
            raise AssertionError(f"the dry run has no fake for {uses}: add one")
        outcome, outputs = fakes[action](inputs)
        return outcome, outputs, None, ""

    def _cache_restore(self, inputs: dict[str, str]) -> tuple[str, dict[str, str]]:
        self.caches.append(("restore", inputs["key"]))
        return "success", {"cache-hit": "true" if self.cache_hit else "false"}

    def _cache_save(self, inputs: dict[str, str]) -> tuple[str, dict[str, str]]:
        self.caches.append(("save", inputs["key"]))
        return "success", {}

    def _upload(self, inputs: dict[str, str]) -> tuple[str, dict[str, str]]:
        dest = self.artifacts / inputs["name"]
        found = False
        for line in inputs["path"].split("\n"):
            source = self.workspace / line.strip() if line.strip() else None
            if source is not None and source.exists():
                found = True
                if source.is_dir():
                    shutil.copytree(source, dest, dirs_exist_ok=True)
                else:
                    dest.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, dest)
        if not found and inputs.get("if-no-files-found") == "error":
            return "failure", {}
        return "success", {}

    def _download(self, inputs: dict[str, str]) -> tuple[str, dict[str, str]]:
        source = self.artifacts / inputs["name"]
        if not source.is_dir():
            return "failure", {}
        shutil.copytree(source, Path(inputs.get("path") or self.workspace), dirs_exist_ok=True)
        return "success", {}

    # --- expressions ---------------------------------------------------------------------------

    def _contexts(self, env: dict[str, str], steps: dict[str, Any]) -> dict[str, Any]:
        return {"github": self.github, "runner": self.runner, "env": dict(env), "steps": steps}

    def _render(self, text: str, contexts: dict[str, Any]) -> str:
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: _string(Expression(m.group(1), contexts).value()), str(text))

    def _render_map(self, mapping: dict[str, Any], contexts: dict[str, Any]) -> dict[str, str]:
        return {k: self._render(str(v), contexts) for k, v in mapping.items()}

    def _condition(self, text: Any, contexts: dict[str, Any], failed: bool) -> bool:
        if text is None:
            text = "success()"
        text = str(text).strip()
        match = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.S)
        text = match.group(1) if match else text
        if not any(re.search(rf"\b{f}\s*\(", text) for f in STATUS_FUNCTIONS):
            text = f"success() && ({text})"
        return _truthy(Expression(text, contexts, failed).value())


class Expression:
    """GitHub's expression syntax, as much as the example workflows use: literals, property
    paths, ``== != ! && ||``, parentheses and the status functions."""

    TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(\d+(?:\.\d+)?)|(==|!=|&&|\|\||[!().,])|([A-Za-z_][\w-]*))")

    def __init__(self, text: str, contexts: dict[str, Any], failed: bool = False) -> None:
        self.tokens = self._tokenize(text)
        self.contexts, self.failed, self.i = contexts, failed, 0

    def _tokenize(self, text: str) -> list[tuple[str, Any]]:
        tokens, pos, text = [], 0, text.strip()
        while pos < len(text):
            m = self.TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise AssertionError(f"cannot read expression {text!r} at {text[pos:]!r}")
            string, number, op, name = m.groups()
            if string is not None:
                tokens.append(("lit", string[1:-1].replace("''", "'")))
            elif number is not None:
                tokens.append(("lit", float(number)))
            elif op is not None:
                tokens.append(("op", op))
            else:
                tokens.append(("lit", {"true": True, "false": False, "null": None}[name])
                              if name in ("true", "false", "null") else ("name", name))
            pos = m.end()
        return tokens

    def value(self) -> Any:
        result = self._or()
        assert self.i == len(self.tokens), f"unread tokens {self.tokens[self.i:]}"
        return result

    def _peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self, op: str) -> bool:
        if self._peek() == ("op", op):
            self.i += 1
            return True
        return False

    def _or(self) -> Any:
        left = self._and()
        while self._take("||"):
            right = self._and()
            left = left if _truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._not()
        while self._take("&&"):
            right = self._not()
            left = right if _truthy(left) else left
        return left

    def _not(self) -> Any:
        if self._take("!"):
            return not _truthy(self._not())
        left = self._primary()
        for op in ("==", "!="):
            if self._take(op):
                same = _loose(left) == _loose(self._primary())
                return same if op == "==" else not same
        return left

    def _primary(self) -> Any:
        token = self._peek()
        assert token is not None, "expression ends too soon"
        self.i += 1
        kind, value = token
        if token == ("op", "("):
            inner = self._or()
            assert self._take(")"), "missing )"
            return inner
        if kind == "lit":
            return value
        assert kind == "name", f"unexpected {value!r}"
        if self._take("("):
            assert value in STATUS_FUNCTIONS, f"the dry run knows no function {value}()"
            assert self._take(")"), f"{value}() takes no arguments"
            return {"always": True, "success": not self.failed, "failure": self.failed,
                    "cancelled": False}[value]
        current: Any = self.contexts.get(value)
        while self._take("."):
            kind, key = self._peek() or ("", "")
            assert kind == "name", "a property name after '.'"
            self.i += 1
            current = current.get(key) if isinstance(current, dict) else None
        return current


def _truthy(v: Any) -> bool:
    return v not in (None, False, 0, "") and v == v


def _loose(v: Any) -> Any:
    """GitHub compares strings without case, and null as an empty string when beside one."""
    return "" if v is None else v.casefold() if isinstance(v, str) else v


def _string(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _outputs(text: str) -> dict[str, str]:
    """``$GITHUB_OUTPUT``'s ``key=value`` and ``key<<DELIMITER`` lines."""
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            value = []
            for more in lines:
                if more == delimiter:
                    break
                value.append(more)
            out[key] = "\n".join(value)
        elif "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
    return out

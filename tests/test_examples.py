"""The shipped example workflow parses, and every distbench command in it exists with its options."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import yaml

from harness.cli import main

WORKFLOW = Path(__file__).parent.parent / "examples" / "github-actions" / "distbench-gate.yml"


def _distbench_commands(workflow: dict) -> list[list[str]]:
    """The argument lists of every `distbench` invocation in the workflow's run steps."""
    commands = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = step.get("run", "").replace("\\\n", " ")
            for line in script.splitlines():
                words = shlex.split(line)
                for i, word in enumerate(words):
                    if word == "distbench" or word.endswith("/distbench"):
                        commands.append(words[i + 1:])
    return commands


def test_example_workflow_commands_exist_with_their_options():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["jobs"]["gate"]["steps"], "the workflow has steps"
    commands = _distbench_commands(workflow)
    assert {c[0] for c in commands} == {"run", "compare"}
    for args in commands:
        command = main.get_command(click.Context(main), args[0])
        assert command is not None, f"distbench {args[0]} does not exist"
        command.make_context(args[0], list(args[1:]))  # raises on an unknown option or a bad value


def test_the_checker_would_catch_a_misspelt_option():
    command = main.get_command(click.Context(main), "compare")
    try:
        command.make_context("compare", ["a", "b", "--markdown", "x.md"])
    except click.UsageError:
        return
    raise AssertionError("an unknown option was accepted")

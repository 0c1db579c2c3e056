"""Shared fixtures: suites written from YAML text into a temporary directory."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.suite.loading import load_suite


@pytest.fixture
def suite_file(tmp_path: Path):
    """``suite_file(yaml_text) -> Path`` of a suite file in a fresh temporary directory."""
    def write(text: str, name: str = "suite.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path
    return write


@pytest.fixture
def make_suite(suite_file):
    """``make_suite(yaml_text, *overrides) -> Suite``."""
    def make(text: str, *overrides: str):
        return load_suite(suite_file(text), overrides)
    return make

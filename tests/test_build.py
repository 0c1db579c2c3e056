"""The build in use (pure or compiled) is reported, and a mixed one is refused."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from harness import build, protocol
from harness.cli import main

SO = importlib.machinery.EXTENSION_SUFFIXES[0]


def _pretend(monkeypatch, modules: set[str], suffix: str) -> None:
    """Make ``find_spec`` report ``modules`` as files ending in ``suffix`` (``.py`` or an
    extension module's)."""
    real = importlib.util.find_spec

    def find_spec(name, *args):
        spec = real(name, *args)
        if name in modules:
            folder, file = os.path.split(spec.origin)
            return SimpleNamespace(origin=os.path.join(folder, file.split(".")[0] + suffix))
        return spec
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_this_build_is_consistent_and_reported():
    kind = build.kind()
    assert kind == os.environ.get("DISTBENCH_EXPECT_BUILD", kind)  # CI checks the compiled one
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and f"(build: {kind})" in result.output


def test_a_mixed_build_is_refused(monkeypatch):
    _pretend(monkeypatch, {"harness.engine.sim"}, ".py" if build.kind() == "compiled" else SO)
    with pytest.raises(build.MixedBuild, match="interpreted"):
        build.kind()
    result = CliRunner().invoke(main, ["run", "--no-report", "-q"])
    assert result.exit_code == 2 and "mixed build" in result.output


def test_a_compiled_module_built_from_other_source_is_refused(monkeypatch, tmp_path):
    modules = {build._module(path) for path in build.COMPILED}
    _pretend(monkeypatch, modules, SO)
    monkeypatch.setattr(build, "SOURCES", str(tmp_path / "none.json"))  # no digests: all stale
    with pytest.raises(build.MixedBuild, match="another version"):
        build.kind()


def test_built_in_protocols_describe_themselves():
    """A compiled class has no docstring, so a compiled built-in passes its description."""
    built_in = [spec for spec in protocol.registry().values()
                if spec.factory.__module__.startswith("implementations.")]
    assert len(built_in) >= 5 and all(spec.description for spec in built_in)

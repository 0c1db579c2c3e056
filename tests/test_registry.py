"""The protocol registry: packages found through the ``distbench.protocols`` entry points.

Each test installs throwaway packages the real way, a ``*.dist-info`` directory with an
``entry_points.txt`` beside the package's module in a directory on the path, and reads them
either in this process (with the registry emptied for the test) or in a ``distbench`` command
started with that directory on its PYTHONPATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness import protocol
from harness.suite.errors import ConfigError
from harness.suite.loading import load_suite

SPEC_OF = textwrap.dedent("""
    from harness.protocol import ProtocolSpec
    from implementations.raft.node import RaftNode
    from implementations.raft.options import RaftOptions
    SPEC = ProtocolSpec({name!r}, "consensus", RaftNode, RaftOptions, {description!r})
""")


def install(site: Path, package: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """A distribution ``package`` in ``site``: its metadata, its entry points, its modules."""
    info = site / f"{package}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[distbench.protocols]\n" + "".join(f"{name} = {target}\n" for name, target in entry_points.items()))
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source)
    return site


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory on the path for throwaway packages, and a registry that has read nothing yet."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.setattr(protocol, "_REGISTRY", {})
    monkeypatch.setattr(protocol, "_BROKEN", {})
    monkeypatch.setattr(protocol, "_IN_PROCESS", set())
    monkeypatch.setattr(protocol, "_loaded", False)
    return path


def broken_packages(site: Path) -> Path:
    install(site, "exploding", {"exploding": "exploding_mod:SPEC"},
            {"exploding_mod": "raise RuntimeError('no licence server\\nsecond line of the error')\n"})
    install(site, "mislabelled", {"mislabelled": "mislabelled_mod:SPEC", "other": "mislabelled_mod:OTHER"},
            {"mislabelled_mod": SPEC_OF.format(name="mislabelled", description="fine")
             + "OTHER = object()\n"})
    return site


def distbench(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_a_package_is_found_through_its_entry_point(site):
    install(site, "extra", {"extra-raft": "extra_mod:SPEC"},
            {"extra_mod": SPEC_OF.format(name="extra-raft", description="Raft, shipped apart")})
    specs = protocol.registry()
    assert specs["extra-raft"].description == "Raft, shipped apart"
    assert {"raft", "multipaxos", "2pc", "occ"} <= set(specs)  # the built-ins, found the same way
    assert protocol.broken() == {}


def test_broken_packages_are_named_with_the_reason_on_one_line(site):
    broken_packages(site)
    assert protocol.broken() == {
        "exploding": "exploding_mod:SPEC: RuntimeError: no licence server ...",
        "other": "mislabelled_mod:OTHER is not the ProtocolSpec named 'other'"}
    assert "mislabelled" in protocol.registry() and "raft" in protocol.registry()  # the rest load
    with pytest.raises(protocol.UnknownProtocol, match="'exploding' could not be loaded: .*RuntimeError"):
        protocol.get("exploding")


def test_a_suite_naming_a_broken_package_is_refused_in_one_line(site, tmp_path):
    broken_packages(site)
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: s\nprotocol: exploding\n")
    with pytest.raises(ConfigError) as refused:
        load_suite(suite)
    message = str(refused.value)
    assert "\n" not in message
    assert str(suite) in message and "protocol" in message
    assert "a protocol whose package loads" in message and "no licence server" in message


def test_distbench_list_and_run_show_a_broken_package(tmp_path):
    site = broken_packages(tmp_path / "site")
    listed = distbench(site, "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert any(line.split()[:2] == ["exploding", "(broken)"] and "no licence server ..." in line
               for line in lines), listed.stdout
    assert any(line.split()[:2] == ["other", "(broken)"] for line in lines), listed.stdout
    assert any(line.split()[:2] == ["mislabelled", "consensus"] for line in lines), listed.stdout
    assert not any("second line" in line for line in lines)

    (tmp_path / "suite.yaml").write_text("name: s\nduration: 1s\nwarmup: 0s\nprotocol: exploding\n")
    ran = distbench(site, "run", "suite.yaml", "--out", "out", "--no-report", "-q", cwd=tmp_path)
    assert ran.returncode == 2
    assert len(ran.stderr.strip().splitlines()) == 1 and "exploding" in ran.stderr, ran.stderr
    assert not (tmp_path / "out").exists()


def test_a_name_several_packages_claim_is_refused_whichever_loads_first(site):
    for package in ("second", "first", "third"):
        install(site, package, {"twin": f"{package}_mod:SPEC"},
                {f"{package}_mod": SPEC_OF.format(name="twin", description=package)})
    assert "twin" not in protocol.registry()
    assert protocol.broken() == {"twin": "provided by more than one package: first, second, third"}
    with pytest.raises(protocol.UnknownProtocol, match="provided by more than one package"):
        protocol.get("twin")


@pytest.mark.parametrize("registered_first", [True, False])
def test_an_in_process_registration_wins_over_an_entry_point(site, registered_first):
    install(site, "extra", {"mine": "extra_mod:SPEC"},
            {"extra_mod": SPEC_OF.format(name="mine", description="from the package")})
    if not registered_first:
        protocol.registry()

    @protocol.register("mine", kind="consensus", description="in this process")
    class Mine(protocol.Node):
        pass

    assert protocol.get("mine").factory is Mine
    assert protocol.registry()["mine"].description == "in this process"

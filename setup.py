"""Packaging lives in pyproject.toml. This file only adds the optional compiled build:
``DISTBENCH_COMPILE=1 pip install .`` compiles the modules listed in ``harness/build.py`` with
mypyc (the default install stays pure Python)."""

import importlib.util
import json
import os
from pathlib import Path

from setuptools import setup

ext_modules = []
if os.environ.get("DISTBENCH_COMPILE") == "1":
    from mypyc.build import mypycify

    here = Path(__file__).parent
    spec = importlib.util.spec_from_file_location("build", here / "harness" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)  # standard library only: no dependency needed here
    # what the compiled modules were built from, so that an edited source is never shadowed
    (here / "harness" / build.SOURCES).write_text(
        json.dumps({path: build.digest(str(here / path)) for path in build.COMPILED}, indent=1))
    ext_modules = mypycify(["--ignore-missing-imports", "--follow-imports=silent", *build.COMPILED],
                           opt_level="3")

setup(ext_modules=ext_modules)

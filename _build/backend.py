"""setuptools' build backend, plus mypy as a build requirement when DISTBENCH_COMPILE=1."""

import os

from setuptools.build_meta import *  # noqa: F401,F403
from setuptools.build_meta import get_requires_for_build_editable as _editable
from setuptools.build_meta import get_requires_for_build_wheel as _wheel

# setuptools answers these by running setup.py, which needs mypyc when compiling: answer first.
_COMPILE = ["mypy>=1.10"] if os.environ.get("DISTBENCH_COMPILE") == "1" else []


def get_requires_for_build_wheel(config_settings=None):
    return _COMPILE or _wheel(config_settings)


def get_requires_for_build_editable(config_settings=None):
    return _COMPILE or _editable(config_settings)

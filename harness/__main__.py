"""``python -m harness`` is the ``distbench`` command."""

from harness.cli import main

main()

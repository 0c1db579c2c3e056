"""``distbench check`` (is a history linearizable?) and ``distbench export`` (a run's history, for
other checkers)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.common import fail, parse_limit


@click.command(name="check")
@click.argument("history_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", required=True, type=click.Choice(["register", "cas-register", "kv", "list-append"]),
              help="The object the history is of: one register (read, write), one cas-register "
                   "(and cas [expected new]), a register per key (kv), or transactions of appends "
                   "to and reads of lists (list-append, Elle's; checked for serializability).")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "jepsen-edn", "porcupine", "distbench"]),
              help="jepsen-edn (Jepsen's history.edn), porcupine (the Jepsen log Porcupine reads) "
                   "or distbench (distbench export --format distbench); auto tells them apart.")
@click.option("--time-limit", default="off", show_default=True, metavar="DURATION|off",
              help="Give up after this long (e.g. 30s): the verdict is then unknown (exit 3).")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              help="For an invalid history, write a timeline of the smallest window to this file.")
def check_(history_file: Path, model: str, fmt: str, time_limit: str, html_out: Path | None) -> None:
    """Check that HISTORY_FILE is linearizable. Exit 0 valid, 1 invalid (the smallest window of
    operations that cannot be linearized is printed), 2 bad input, 3 unknown within the time
    limit."""
    from harness.checkers import external
    from harness.checkers.formats import HistoryError
    from harness.units import parse_duration

    limit = parse_limit(time_limit, "--time-limit", parse_duration, None)
    if html_out is not None and html_out.exists():
        fail(f"--html: {html_out} exists; name a new file")
    if model == "list-append":
        _check_list_append(history_file, fmt, html_out)
    try:
        imported = external.load(history_file, fmt, model)
    except HistoryError as exc:
        fail(str(exc))
    verdict = external.check(imported, limit)
    result = verdict.result
    n = len(imported.history)
    if result.status == "ok":
        click.echo(f"valid: {n} operations are linearizable ({model})")
        sys.exit(0)
    if result.status == "unknown":
        click.echo(f"unknown: {result.detail}")
        sys.exit(3)
    window = verdict.window or []
    click.echo(f"invalid: {n} operations are not linearizable ({model}); "
               + (f"these {len(window)} cannot be linearized together" if len(window) > 1
                  else "this one cannot be linearized")
               + ("" if verdict.minimal else " (time ran out before the window was minimal)")
               + ":")
    for i in window:
        click.echo(f"  {imported.show(i)}")
    if html_out is not None:
        try:
            html_out.write_text(external.html(verdict, f"{history_file.name}: not linearizable"))
        except OSError as exc:
            fail(f"--html: cannot write {html_out} ({exc.strerror or exc})")
        click.echo(f"timeline: {html_out}")
    sys.exit(1)


def _check_list_append(path: Path, fmt: str, html_out: Path | None) -> None:
    """``check --model list-append``: the verdict of :mod:`harness.checkers.list_append`."""
    from harness.checkers import formats, list_append
    from harness.checkers.formats import HistoryError

    if fmt not in ("auto", "jepsen-edn"):
        fail(f"--format {fmt}: list-append histories are read as jepsen-edn")
    if html_out is not None:
        fail("--html: the timeline is drawn for register and kv histories, not list-append")
    try:
        txns = list_append.read(path, formats.read_text(path))
    except HistoryError as exc:
        fail(str(exc))
    verdict = list_append.check(txns)
    if verdict.valid:
        click.echo(f"valid: {verdict.transactions} transactions are serializable (list-append)")
        sys.exit(0)
    click.echo(f"invalid: {verdict.transactions} transactions are not serializable (list-append): "
               f"{verdict.anomaly}: {verdict.detail} (Tn: the transaction invoked at line n)")
    sys.exit(1)


@click.command(name="export")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("run_id", required=False)
@click.option("--format", "fmt", default="jepsen-edn", show_default=True,
              type=click.Choice(["jepsen-edn", "distbench"]),
              help="jepsen-edn for Knossos, Porcupine or Elle; distbench keeps exact times.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (a new file) instead of to standard output.")
def export(results_dir: Path, run_id: str | None, fmt: str, out: Path | None) -> None:
    """Write the operation history of a consensus run of RESULTS_DIR (replayed from its
    manifest; RUN_ID may be left out when the directory holds one run)."""
    from harness.checkers import external
    from harness.checkers.formats import HistoryError

    if out is not None and out.exists():
        fail(f"--out: {out} exists; name a new file")
    try:
        run_id, history = external.replay(results_dir, run_id)
    except HistoryError as exc:
        fail(str(exc))
    text = external.write(history, fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text)
    except OSError as exc:
        fail(f"--out: cannot write {out} ({exc.strerror or exc})")
    click.echo(f"export: run {run_id}: {len(history)} operations -> {out}", err=True)

"""Exit 0 if two results directories hold the same result files, apart from the columns that
may differ between builds: ``wall_s`` (and, with --ignore, more). Used by .ci/run to check that
the compiled build gives the pure build's results."""

import argparse
import csv
import sys
from pathlib import Path

FILES = ("runs.csv", "events.csv", "timeseries.csv", "latencies.csv")


def rows(path: Path, ignore: set[str]) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return [{k: v for k, v in row.items() if k not in ignore} for row in csv.DictReader(f)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--ignore", nargs="*", default=[])
    args = parser.parse_args()
    ignore = {"wall_s", *args.ignore}
    differ = [name for name in FILES if rows(args.a / name, ignore) != rows(args.b / name, ignore)]
    if differ:
        print(f"results differ: {', '.join(differ)} ({args.a} vs {args.b})")
        return 1
    print(f"identical results ({', '.join(FILES)}; ignoring {', '.join(sorted(ignore))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bench figures in a machine-readable form: each bench given `--json PATH` writes its figures there, and
`run_all.py` reads them into one table, so nothing has to parse what the benches print."""
from __future__ import annotations

import argparse
import json
import operator
from dataclasses import asdict, dataclass

CHECKS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}


@dataclass(frozen=True)
class Figure:
    bench: str
    name: str
    value: float
    unit: str
    check: str = ""       # "<", "<=", ">", ">=", "==", or "" for a figure with no target
    target: float | None = None

    @property
    def passed(self) -> bool | None:
        return None if not self.check else CHECKS[self.check](self.value, self.target)


def add_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH as JSON (for run_all.py)")


def write(path: str | None, figures: list[Figure]) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump([asdict(f) for f in figures], out, ensure_ascii=False, indent=1)


def read(path: str) -> list[Figure]:
    with open(path, encoding="utf-8") as found:
        return [Figure(**row) for row in json.load(found)]

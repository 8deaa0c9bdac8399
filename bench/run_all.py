"""Every benchmark, one after another, and one table of their figures: value, target, pass or fail.

    python bench/run_all.py            # the full sizes (about 20 minutes on 2 cores)
    python bench/run_all.py --quick    # smaller sizes, a few minutes

Each bench runs as its own process with `--json`, so it is measured as a user would run it and the table is
built from the figures it wrote, not from what it printed. A bench added to bench/ is added to BENCHES here.
The table is printed and, with --markdown PATH, written as Markdown with the machine it ran on.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import figures  # noqa: E402

HERE = Path(__file__).resolve().parent
# name: (script, its arguments for a full run, for a quick run); "{url}" is the bench's own PostgreSQL database.
BENCHES = {
    "posters": ("posters.py", [], ["--count", "200"]),
    "photos": ("photos.py", [], ["--rounds", "2"]),
    "timers": ("timers.py", ["--url", "{url}"], ["--url", "{url}", "--complaints", "100000"]),
    "webhooks": ("webhooks.py", ["--postgres", "{url}"], ["--postgres", "{url}", "--rounds", "1"]),
    "console": ("console.py", ["--url", "{url}"], ["--url", "{url}", "--complaints", "100000", "--ledger-rows", "10000"]),
    "warnings": ("warnings.py", ["--url", "{url}", "--full"], ["--url", "{url}"]),
    "load": ("load.py", ["--url", "{url}"], ["--url", "{url}", "--seconds", "20", "--workers", "60"]),
    "load-sqlite": ("load.py", ["--url", "sqlite"], ["--url", "sqlite", "--seconds", "20", "--workers", "60"]),
    "routing": ("routing.py", ["--url", "{url}"], ["--url", "{url}", "--rounds", "10"]),
    "writers": ("writers.py", [], ["--seconds", "2"]),
}


def machine() -> str:
    cores = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    try:
        version = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version"],
                                 capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        version = "unknown"
    return (f"{platform.processor() or platform.machine()}, {cores} cores, {memory:.0f} GiB memory, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, PostgreSQL {version}")


def run(name: str, quick: bool, url_prefix: str, tmp: str) -> tuple[list[figures.Figure], float, int]:
    script, full, short = BENCHES[name]
    out = os.path.join(tmp, f"{name}.json")
    args = [a.format(url=f"{url_prefix}_{name}") for a in (short if quick else full)]
    print(f"\n=== {name}: {script} {' '.join(args)}", flush=True)
    started = time.monotonic()
    code = subprocess.run([sys.executable, str(HERE / script), *args, "--json", out]).returncode
    found = figures.read(out) if code == 0 and os.path.exists(out) else []
    return found, time.monotonic() - started, code


def table(rows: list[figures.Figure], failures: dict[str, int]) -> list[str]:
    lines = ["| bench | figure | value | target | result |", "|---|---|---:|---|---|"]
    for f in rows:
        target = f"{f.check} {f.target:g} {f.unit}".strip() if f.check else ""
        result = {True: "pass", False: "FAIL", None: ""}[f.passed]
        value = f"{f.value:,.0f}" if float(f.value).is_integer() else f"{f.value:,.2f}"
        lines.append(f"| {f.bench} | {f.name} | {value} {f.unit} | {target} | {result} |")
    lines += [f"| {name} | the bench itself | exit code {code} | 0 | FAIL |" for name, code in failures.items()]
    return lines


def write_markdown(path: Path, summary: str, lines: list[str], only: set[str]) -> None:
    """Write the table with the machine it ran on. A run of some benches (--only) keeps the other benches' rows
    and the earlier runs' summaries from the file, so the file always holds the latest figure of every bench."""
    runs, kept = [f"{summary}."], []
    if only and path.exists():
        old = path.read_text(encoding="utf-8").splitlines()
        runs += [line for line in old if re.match(r"(full|quick) run, ", line)]
        kept = [line for line in old if line.startswith("| ") and line.split("|")[1].strip() in set(BENCHES) - only]
    header, rows = lines[:2], sorted(kept + lines[2:], key=lambda line: list(BENCHES).index(line.split("|")[1].strip()))
    path.write_text("# Benchmark results\n\nWritten by `make bench` (bench/run_all.py); rerun it to refresh.\n\n"
                    f"Machine: {machine()}.\n\n" + "\n\n".join(runs) + "\n\n" + "\n".join(header + rows) + "\n",
                    encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (see BENCHES)")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHES), help="run these benches only")
    parser.add_argument("--url-prefix", default="postgresql+psycopg://postgres@127.0.0.1:5432/qingling_bench",
                        help="each bench gets the database <prefix>_<bench>, dropped and created afresh")
    parser.add_argument("--markdown", metavar="PATH", help="also write the table, with the machine, to PATH")
    args = parser.parse_args()
    rows: list[figures.Figure] = []
    failures: dict[str, int] = {}
    durations = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or BENCHES:
            found, seconds, code = run(name, args.quick, args.url_prefix, tmp)
            rows += found
            durations.append(f"{name} {seconds:.0f} s")
            if code != 0:
                failures[name] = code
    lines = table(rows, failures)
    print("\n" + "\n".join(lines))
    failed = sum(1 for f in rows if f.passed is False) + len(failures)
    summary = (f"{'quick' if args.quick else 'full'} run, {time.strftime('%Y-%m-%d %H:%M')}: "
               f"{', '.join(durations)}; {failed} failed")
    print(summary)
    if args.markdown:
        write_markdown(Path(args.markdown), summary, lines, set(args.only or ()))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

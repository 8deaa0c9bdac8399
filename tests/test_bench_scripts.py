"""Every benchmark script still starts: `make bench` runs them on a quiet machine long after a change, so a
renamed import must fail here first (bench/timers.py once imported a module the layout had moved)."""
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run_all import BENCHES

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script", sorted({script for script, _full, _quick in BENCHES.values()} | {"run_all.py"}))
def test_the_bench_script_starts_and_explains_itself(script):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--help"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout

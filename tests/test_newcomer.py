"""What a newcomer meets first: the `qingling` command, the install, and documentation a clone carries."""
from __future__ import annotations

import logging

from click.testing import CliRunner

from handlers.cli import main


def test_help_lists_our_commands_only_and_builds_no_app(caplog):
    with caplog.at_level(logging.WARNING):
        result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert {"demo", "posters", "worker", "run", "doctor", "users"} <= {
        line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    for flask_own in ("--app", "--env-file", "--debug", "routes", "shell", "limiter"):
        assert flask_own not in result.output
    assert caplog.records == []  # no "QINGLING_SECRET_KEY is not set" from building the app


def test_the_package_builds_quietly_with_its_templates_static_files_and_data(tmp_path):
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path), str(root)], capture_output=True, text=True, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "would be ignored" not in built.stdout + built.stderr
    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    for needed in ("handlers/templates/receipt.html", "handlers/templates/console/case.html",
                   "handlers/static/site.css", "intake/data/linyi.toml", "migrations/script.py.mako"):
        assert needed in names
    assert not [n for n in names if n.startswith("tests/")]


def test_the_readme_points_only_at_files_the_clone_has():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "../shared/DESIGN" not in readme and "../shared/reference" not in readme and "](../" not in readme
    linked = set(re.findall(r"\]\(([^)#:]+)\)", readme)) | set(re.findall(r"`((?:docs|bench|scripts)/[\w./-]+)`", readme))
    assert {"docs/design.md", "docs/rules.md"} <= linked
    assert [path for path in linked if not (root / path).exists()] == []

"""The layout's rules, checked on the source so they cannot rot (README, "Architecture").

Inside intake/, a domain package imports only the packages below it in LAYERS (and itself); the core never
imports Flask, a provider SDK or handlers/; qr/ and paper/ import nothing of ours; no module imports back into its own
package's __init__. In tests/, no module imports a test module: what they share is in tests/helpers.py and
tests/conftest.py.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Lowest first: each package may import the ones before it, never one after it.
LAYERS = ("foundation", "reading", "registry", "people", "delivery", "case", "conversation", "supervision",
          "enforcement", "warnings", "units", "privacy", "runtime")
FORBIDDEN_IN_CORE = ("flask", "flask_login", "flask_wtf", "flask_limiter", "werkzeug", "handlers", "wechatpy",
                     "twilio", "alibabacloud_dysmsapi20170525", "tencentcloud", "qr", "paper")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth of the file (function-level imports count too)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None or node.level == 0 and target.count(".") < 2 and target.startswith("intake"):
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return found


def _files(top: str) -> list[Path]:
    return sorted((ROOT / top).rglob("*.py"))


def test_every_intake_module_lives_in_a_known_package():
    stray = [p.relative_to(ROOT) for p in _files("intake")
             if len(p.relative_to(ROOT / "intake").parts) == 1 and p.name != "__init__.py"
             or len(p.relative_to(ROOT / "intake").parts) > 1 and p.relative_to(ROOT / "intake").parts[0] not in LAYERS]
    assert stray == []


@pytest.mark.parametrize("package", LAYERS)
def test_package_says_what_it_holds_and_may_import(package):
    init = ROOT / "intake" / package / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    assert doc and "import" in doc.lower(), f"{init} needs a docstring saying what lives there and what it may import"


def test_intake_packages_import_one_way():
    wrong = []
    for path in _files("intake"):
        own = path.relative_to(ROOT / "intake").parts[0]
        for line, target in _imports(path):
            parts = target.split(".")
            if parts[0] != "intake" or len(parts) < 2 or parts[1] not in LAYERS:
                continue
            if LAYERS.index(parts[1]) > LAYERS.index(own):
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({own}) imports {target}")
    assert wrong == []


@pytest.mark.parametrize("top", ["intake", "qr", "paper"])
def test_core_imports_no_web_framework_sdk_or_adapter(top):
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {target}"
             for path in _files(top) for line, target in _imports(path)
             if target.split(".")[0] in FORBIDDEN_IN_CORE and target.split(".")[0] != top]
    assert wrong == []


@pytest.mark.parametrize("top", ["qr", "paper"])
def test_renderers_import_nothing_of_ours(top):
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {target}"
             for path in _files(top) for line, target in _imports(path)
             if target.split(".")[0] in ("intake", "handlers", "qr", "paper") and target.split(".")[0] != top]
    assert wrong == []


@pytest.mark.parametrize("top", ["intake", "handlers"])
def test_no_module_imports_its_own_packages_init(top):
    """A package's __init__ is its face (or the composition root); its children get their plumbing elsewhere."""
    wrong = []
    for path in _files(top):
        if path.name == "__init__.py":
            continue
        package = _module_name(path).rpartition(".")[0]
        ancestors = {".".join(package.split(".")[:n]) for n in range(1, package.count(".") + 2)}
        for line, target in _imports(path):
            if target in ancestors or target.rpartition(".")[0] in ancestors and not _is_module(target):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == []


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_test_modules_import_no_other_test_module():
    """In tests/, what modules share lives in helpers.py (imported as tests.helpers) and conftest.py (fixtures,
    never imported): no module imports a test module, conftest.py, or a module beside them by its bare name."""
    beside = {path.stem for path in _files("tests")}
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {target}"
             for path in _files("tests") for line, target in _imports(path)
             if target.split(".")[0] in beside
             or target.split(".")[0] == "tests" and target.split(".")[:2] != ["tests", "helpers"]]
    assert wrong == []

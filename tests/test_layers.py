"""Guards of the one direction of dependency (docs/architecture.md, "Layers").

- No function-level import of a ``timebank`` module outside the entry points:
  an import hidden in a function is how the old runtime circle grew unseen.
- Every module of the application belongs to a layer of the import-linter
  contract in pyproject.toml, so a new module cannot escape it; and the
  contract holds (``lint-imports``, run here as in ``.ci/run``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "platform": "timebank.platform",
    "tenants": "timebank.tenants",
    "worker": "timebank.worker",
}
# The entry points build the app and may import lazily (the CLI loads commands on demand).
ENTRY_POINTS = {"platform/app.py", "platform/cli.py", "worker/cli.py", "worker/runner.py"}


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found[name] = path
    return found


def function_level_imports(root: Path) -> list[str]:
    """``path:line`` of every import of a timebank module inside a function body."""
    found = []
    for path in modules(root).values():
        relative = path.relative_to(root).as_posix()
        if relative in ENTRY_POINTS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("timebank"):
                    found.append(f"{relative}:{node.lineno} from {node.module}")
                elif isinstance(node, ast.Import) and any(
                    alias.name.startswith("timebank") for alias in node.names
                ):
                    found.append(f"{relative}:{node.lineno} import")
    return sorted(set(found))


def layered_modules(pyproject: Path) -> list[str]:
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["importlinter"]
    listed: list[str] = []
    for contract in config["contracts"]:
        if contract["type"] != "layers":
            continue
        for layer in contract["layers"]:
            listed += [name.strip(" ()") for name in layer.replace("|", ":").split(":")]
    return listed


def outside_the_layers(names: list[str], layered: list[str]) -> list[str]:
    """Modules that no layer covers (a layer covers itself and its sub-modules)."""
    return [
        name
        for name in names
        if not any(name == layer or name.startswith(layer + ".") for layer in layered)
        and name not in {"timebank.tenants", "timebank.worker"}  # the packages themselves
        and not name.endswith(".models")  # the data layer (ignored by the contract)
        and not any(layer.startswith(name + ".") for layer in layered)  # a parent package
    ]


def test_no_function_level_imports_of_timebank_modules() -> None:
    found = function_level_imports(ROOT)
    assert found == [], (
        "Import these at the top of the module (a low layer that must call a high one "
        "gets a hook the high one registers at start-up):\n  " + "\n  ".join(found)
    )


def test_the_import_guard_sees_a_hidden_import(tmp_path: Path) -> None:
    for folder in PACKAGES:
        (tmp_path / folder).mkdir()
    (tmp_path / "tenants" / "low.py").write_text(
        "from timebank.platform.db import db\n\n\ndef f():\n"
        "    from timebank.platform.web import routes\n    return routes\n"
    )
    (tmp_path / "platform" / "app.py").write_text("def g():\n    import timebank.worker.cli\n")
    assert function_level_imports(tmp_path) == ["tenants/low.py:5 from timebank.platform.web"]


def test_every_module_is_in_a_layer() -> None:
    layered = layered_modules(ROOT / "pyproject.toml")
    assert len(layered) > 20
    missing = outside_the_layers(sorted(modules(ROOT)), layered)
    assert missing == [], (
        "Give these modules a layer in [tool.importlinter] (pyproject.toml):\n  "
        + "\n  ".join(missing)
    )


def test_the_layer_guard_sees_a_module_without_a_layer() -> None:
    layered = ["timebank.tenants.ledger", "timebank.platform.web"]
    names = [
        "timebank.tenants.ledger.posting",
        "timebank.tenants.ledger.models",
        "timebank.tenants.gardens.services",
        "timebank.tenants.gardens.models",
        "timebank.platform.web.routes",
    ]
    assert outside_the_layers(names, layered) == ["timebank.tenants.gardens.services"]


def test_the_import_contracts_hold() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout

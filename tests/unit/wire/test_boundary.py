"""zone.wire stands alone, and the SDK's receipts need nothing else from the zone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WIRE = ROOT / "zone" / "wire"


def zone_imports(path: Path) -> set[str]:
    """The ``zone.*`` modules a file imports (at any depth, lazy imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {name for name in names if name == "zone" or name.startswith("zone.")}


def test_wire_imports_only_itself() -> None:
    modules = sorted(WIRE.glob("*.py"))
    assert len(modules) >= 6
    for path in modules:
        assert all(name.startswith("zone.wire.") for name in zone_imports(path)), path


def test_wire_package_is_a_docstring_only() -> None:
    body = ast.parse((WIRE / "__init__.py").read_text(encoding="utf-8")).body
    assert len(body) == 1 and isinstance(body[0], ast.Expr)
    assert isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)


def test_sdk_receipts_import_only_the_wire_contract() -> None:
    imports = zone_imports(ROOT / "zone" / "client" / "receipts.py")
    assert imports and all(name.startswith(("zone.wire.", "zone._proto")) for name in imports)


def test_wire_loads_without_any_other_zone_package() -> None:
    code = (
        "import sys, zone.wire.receipts, zone.wire.checkpoint, zone.wire.merkle; "
        "print(sorted(m for m in sys.modules if m.startswith('zone.') "
        "and not m.startswith('zone.wire')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "[]"

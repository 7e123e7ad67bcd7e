"""scripts/check_architecture.py on small synthetic trees: each rule fires, and stays quiet."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_architecture.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_architecture", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


arch = _load()


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (paths relative to the root ``zone/``) and every ``__init__.py`` above."""
    root = tmp_path / "zone"
    root.mkdir()
    (root / "__init__.py").write_text('"""Root."""\n')
    for name, text in files.items():
        path = root / name
        for parent in path.relative_to(root).parents:
            (root / parent).mkdir(parents=True, exist_ok=True)
            init = root / parent / "__init__.py"
            if not init.exists():
                init.write_text("")
        path.write_text(text)
    return root


def messages(root: Path) -> list[str]:
    return [f"{v.path.relative_to(root.parent)}:{v.line}: {v.message}" for v in arch.check(root)]


def test_a_tree_that_keeps_every_rule_is_quiet(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "errors.py": "class ZoneError(Exception):\n    pass\n",
            "audit/chain.py": "from zone.errors import ZoneError\n" + "x = 1\n" * 399,
            "audit/__init__.py": "from zone.audit.chain import ZoneError\n",
            "wire/codec.py": "import json\n",
            "client/stats.py": "from zone._proto import stats_pb2\nfrom zone.wire import codec\n",
            "client/__init__.py": "from zone.client.stats import stats_pb2\n",
            "client/jobs.py": "from . import stats\nfrom .stats import codec\n",
            "server/wiring.py": "import grpc\nfrom grpc_status import rpc\nimport zone.audit\n",
            "server/app.py": "from zone.server import wiring\nfrom zone._proto import jobs_pb2\n",
            "cli/__init__.py": "def main() -> None:\n    from zone.server.wiring import grpc\n",
            "runtime.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from zone.audit import chain\n"
            ),
            # Generated code is not checked: a cycle, grpc and 500 lines there are fine.
            "_proto/jobs_pb2.py": "import grpc\nfrom zone._proto import x_pb2\n" + "y = 2\n" * 500,
            "_proto/x_pb2.py": "from zone._proto import jobs_pb2\n",
        },
    )
    assert (root / "audit" / "chain.py").read_text().count("\n") == 400
    assert messages(root) == []
    assert arch.main([str(root)]) == 0


def test_a_cycle_through_a_type_checking_import_counts(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "jobs/store.py": '"""Store."""\n\nfrom zone.runtime import Runtime\n',
            "runtime.py": (
                "from typing import TYPE_CHECKING\n\n"
                "if TYPE_CHECKING:\n    from zone.jobs.store import Store\n"
            ),
        },
    )
    assert messages(root) == [
        "zone/jobs/store.py:3: import cycle: zone.jobs.store -> zone.runtime -> zone.jobs.store"
    ]


def test_a_cycle_through_an_import_inside_a_function_counts(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "a.py": "def f() -> None:\n    import zone.b\n",
            "b.py": "from zone.a import f\n",
        },
    )
    assert messages(root) == ["zone/a.py:2: import cycle: zone.a -> zone.b -> zone.a"]


def test_from_package_import_name_imports_the_package_init(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "catalog/__init__.py": "from zone.catalog.store import Store\n",
            "catalog/store.py": "from zone.catalog import meta\n\nStore = 1\n",
            "catalog/meta.py": "",
        },
    )
    assert messages(root) == [
        "zone/catalog/__init__.py:1: import cycle:"
        " zone.catalog -> zone.catalog.store -> zone.catalog"
    ]


def test_a_cycle_of_three_is_reported_once_as_its_chain(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "c.py": "from zone import a\n",
            "a.py": "import zone.b\n",
            "b.py": "from . import c\n",
        },
    )
    assert messages(root) == ["zone/a.py:1: import cycle: zone.a -> zone.b -> zone.c -> zone.a"]


def test_a_relative_import_is_resolved_for_cycles_and_layers(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "client/client.py": "from .. import audit\nfrom ..client import jobs\n",
            "client/jobs.py": "from .client import x\n",
            "audit/__init__.py": "",
        },
    )
    assert messages(root) == [
        "zone/client/client.py:1: the SDK imports zone.audit",
        "zone/client/client.py:2: import cycle: zone.client.client -> zone.client.jobs"
        " -> zone.client.client",
    ]


@pytest.mark.parametrize(("lines", "expected"), [(400, []), (401, ["module has 401 lines"])])
def test_modules_may_have_400_lines_not_401(
    tmp_path: Path, lines: int, expected: list[str]
) -> None:
    root = tree(tmp_path, {"products/big.py": "x = 1\n" * lines})
    assert [v.message.split(" (")[0] for v in arch.check(root)] == expected


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("import grpc", "grpc"),
        ("from grpc import aio", "grpc"),
        ("import grpc_status.rpc_status", "grpc_status.rpc_status"),
        ("from google.rpc import status_pb2", "google.rpc"),
        ("from zone import _proto", "zone._proto"),
        ("from zone._proto import jobs_pb2", "zone._proto"),
        ("import zone.server.errors", "zone.server.errors"),
    ],
)
def test_a_core_module_importing_grpc_proto_or_server_fires(
    tmp_path: Path, statement: str, named: str
) -> None:
    root = tree(tmp_path, {"ledger/ledger.py": f"def f() -> None:\n    {statement}\n"})
    assert messages(root) == [f"zone/ledger/ledger.py:2: a core module imports {named}"]


@pytest.mark.parametrize("module", ["money.py", "policy/engine.py", "consent/__init__.py"])
def test_every_core_module_is_checked(tmp_path: Path, module: str) -> None:
    root = tree(tmp_path, {module: "import grpc\n"})
    assert [v.message for v in arch.check(root)] == ["a core module imports grpc"]


def test_modules_outside_the_core_may_import_grpc(tmp_path: Path) -> None:
    root = tree(tmp_path, {"server/app.py": "import grpc\n", "moneyx.py": "import grpc\n"})
    assert messages(root) == []


@pytest.mark.parametrize(
    "statement", ["from zone.audit import chain", "import zone.audit", "from zone import audit"]
)
def test_the_client_importing_another_zone_package_fires(tmp_path: Path, statement: str) -> None:
    root = tree(tmp_path, {"client/receipts.py": f"{statement}\n", "audit/chain.py": ""})
    assert [v.message for v in arch.check(root)] == ["the SDK imports zone.audit"]


def test_the_client_importing_a_top_level_module_fires(tmp_path: Path) -> None:
    root = tree(tmp_path, {"client/admin.py": "from zone.money import format_micro\n"})
    assert messages(root) == ["zone/client/admin.py:1: the SDK imports zone.money"]


def test_only_server_and_cli_import_the_composition_root(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "server/wiring.py": "",
            "server/app.py": "from zone.server.wiring import build\n",
            "cli/serve.py": "from zone.server import wiring\n",
            "runtime.py": "from zone.server import wiring\n",
            "products/training/service.py": "import zone.server.wiring\n",
        },
    )
    assert messages(root) == [
        "zone/products/training/service.py:1: a core module imports zone.server.wiring",
        "zone/products/training/service.py:1: only zone.server and zone.cli may import"
        " zone.server.wiring",
        "zone/runtime.py:1: only zone.server and zone.cli may import zone.server.wiring",
    ]


def test_a_file_that_does_not_parse_is_a_violation(tmp_path: Path) -> None:
    root = tree(tmp_path, {"state/store.py": "x = 1\ndef (:\n"})
    assert [(v.line, v.message.split(":")[0]) for v in arch.check(root)] == [(2, "cannot parse")]


def test_main_prints_path_line_message_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tree(tmp_path, {"audit/chain.py": "import grpc\n"})
    monkeypatch.chdir(tmp_path)
    assert arch.main([str(root)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "zone/audit/chain.py:1: a core module imports grpc\n"
    assert "1 architecture violation" in captured.err


@pytest.mark.parametrize("statement", ["import sqlite3\n", "from psycopg import sql\n"])
def test_only_the_state_backends_import_a_database_driver(tmp_path: Path, statement: str) -> None:
    root = tree(tmp_path, {"ledger/ledger.py": statement, "state/db.py": statement})
    found = messages(root)
    driver = statement.split()[1]
    assert found == [
        f"zone/ledger/ledger.py:1: only zone.state may import the database driver {driver}"
    ]

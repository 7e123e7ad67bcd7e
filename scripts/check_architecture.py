"""Check the package architecture of zone/ (``make lint``); stdlib only.

Parses every module under the root (default: this repository's ``zone/``) except the generated
``_proto`` package, and enforces:

a. no import cycles between modules; imports under ``if TYPE_CHECKING:`` and inside functions
   count, and ``from package import name`` imports the package's ``__init__`` (and
   ``package.name`` when that is a module);
b. no module over ``MAX_LINES`` lines;
c. the core packages (``CORE``) never import grpc, ``grpc_*``, ``google.rpc``, the generated
   code or the server;
d. the SDK (``zone.client``) imports no zone package but itself, ``zone.wire`` and the generated
   code;
e. only ``zone.server`` and ``zone.cli`` import the composition root ``zone.server.wiring``;
f. only the state backends (``zone.state``) import a database driver (``sqlite3``, ``psycopg``):
   everything else reaches state through ``zone.state.api``.

Every violation is printed as ``path:line: message``; the exit status is 1 if there is any.

    python scripts/check_architecture.py [ROOT]
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_LINES = 400
# Packages and top-level modules that never see gRPC or the server (a missing one is fine).
CORE = (
    "zone.policy",
    "zone.catalog",
    "zone.ledger",
    "zone.audit",
    "zone.jobs",
    "zone.products",
    "zone.metering",
    "zone.state",
    "zone.admin",
    "zone.wire",
    "zone.consent",
    "zone.release",
    "zone.errors",
    "zone.config",
    "zone.config_file",
    "zone.clock",
    "zone.money",
    "zone.yamlio",
    "zone.access",
    "zone.console",  # the supervision console: a web server, but no grpc and no zone.server
    "zone.worker",  # `zone worker`: training on worker machines, a client of the state only
)
CORE_FORBIDDEN = ("grpc", "grpc_*", "google.rpc", "zone._proto", "zone.server")
CLIENT = "zone.client"
CLIENT_ALLOWED = ("zone.client", "zone.wire", "zone._proto")
WIRING = "zone.server.wiring"
WIRING_ALLOWED = ("zone.server", "zone.cli")
DRIVERS = ("sqlite3", "psycopg", "psycopg_pool")
DRIVERS_ALLOWED = ("zone.state",)
GENERATED = "_proto"
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "zone"


@dataclass(frozen=True)
class Violation:
    """One broken rule, at a line of a file."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{_display(self.path)}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Import:
    """One import statement: the module it names and the submodule candidates it lists."""

    line: int
    target: str
    names: tuple[str, ...]  # target.name for each name of a ``from`` import


@dataclass(frozen=True)
class Module:
    """A parsed module of the tree."""

    name: str
    path: Path
    lines: int
    imports: tuple[Import, ...]


def within(name: str, prefix: str) -> bool:
    """Whether ``name`` is the module ``prefix`` or inside it; ``grpc_*`` matches by first part."""
    if prefix.endswith("*"):
        return name.split(".")[0].startswith(prefix[:-1])
    return name == prefix or name.startswith(prefix + ".")


def _within_any(name: str, prefixes: Iterable[str]) -> bool:
    return any(within(name, p) for p in prefixes)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _module_name(root: Path, path: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[Import]:
    for node in ast.walk(tree):  # every level: functions and ``if TYPE_CHECKING:`` included
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(node.lineno, alias.name, ())
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node)
            names = tuple(f"{target}.{a.name}" for a in node.names if a.name != "*")
            yield Import(node.lineno, target, names)


def parse_tree(root: Path) -> tuple[dict[str, Module], list[Violation]]:
    """Parse every module under ``root`` except the generated code.

    Args:
        root: The package directory (its name is the top-level package name).

    Returns:
        The modules by dotted name, and a violation for each file that does not parse.
    """
    modules: dict[str, Module] = {}
    errors: list[Violation] = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] == GENERATED:
            continue
        name = _module_name(root, path)
        text = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as exc:
            errors.append(Violation(path, exc.lineno or 1, f"cannot parse: {exc.msg}"))
            continue
        is_package = path.name == "__init__.py"
        imports = tuple(_imports(tree, name, is_package))
        modules[name] = Module(name, path, len(text.splitlines()), imports)
    return modules, errors


def _edges(modules: dict[str, Module]) -> dict[str, dict[str, int]]:
    """For each module, the tree's modules it imports, with the line of the first such import."""
    graph: dict[str, dict[str, int]] = {}
    for module in modules.values():
        out: dict[str, int] = {}
        for imp in module.imports:
            for target in (imp.target, *imp.names):
                if target in modules and target != module.name:
                    out.setdefault(target, imp.line)
        graph[module.name] = out
    return graph


def _shortest_path(graph: dict[str, dict[str, int]], start: str, goal: str) -> list[str] | None:
    previous: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [goal]
            while path[-1] != start:
                path.append(previous[path[-1]])
            return path[::-1]
        for nxt in sorted(graph[node]):
            if nxt not in seen:
                seen.add(nxt)
                previous[nxt] = node
                queue.append(nxt)
    return None


def check_cycles(modules: dict[str, Module]) -> list[Violation]:
    """Rule a: the shortest cycle through each import edge that lies on one, each reported once.

    A cycle is reported at the import that starts its chain, the chain starting from its
    alphabetically first module.
    """
    graph = _edges(modules)
    cycles: set[tuple[str, ...]] = set()
    for source in sorted(graph):
        for target in sorted(graph[source]):
            back = _shortest_path(graph, target, source)
            if back is not None:
                chain = [source, *back[:-1]]
                first = chain.index(min(chain))
                cycles.add(tuple(chain[first:] + chain[:first]))
    violations = []
    for cycle in sorted(cycles):
        head, nxt = cycle[0], cycle[1]
        shown = " -> ".join([*cycle, head])
        violations.append(Violation(modules[head].path, graph[head][nxt], f"import cycle: {shown}"))
    return violations


def check_sizes(modules: dict[str, Module]) -> list[Violation]:
    """Rule b: no module over ``MAX_LINES`` lines."""
    return [
        Violation(m.path, MAX_LINES + 1, f"module has {m.lines} lines (at most {MAX_LINES})")
        for m in modules.values()
        if m.lines > MAX_LINES
    ]


def _offending(imp: Import, root: str, bad: Iterable[str], *, allowed: bool = False) -> list[str]:
    """What an import names that is (or, with ``allowed``, is not) in ``bad``.

    The root package itself is neutral: ``from zone import x`` is judged by ``zone.x``.
    """
    prefixes = tuple(bad)

    def offends(name: str) -> bool:
        return _within_any(name, prefixes) != allowed

    if imp.target != root and offends(imp.target):
        return [imp.target]
    return [name for name in imp.names if offends(name)]


def check_layers(modules: dict[str, Module], root: str) -> list[Violation]:
    """Rules c, d, e and f: what the core, the SDK and everything else may import."""
    violations = []
    for module in modules.values():
        core = _within_any(module.name, CORE)
        client = within(module.name, CLIENT)
        composition = _within_any(module.name, WIRING_ALLOWED)
        backend = _within_any(module.name, DRIVERS_ALLOWED)
        for imp in module.imports:
            found: list[tuple[str, str]] = []
            if core:
                bad = _offending(imp, root, CORE_FORBIDDEN)
                found += [(name, "a core module imports") for name in bad]
            if client and within(imp.target, root):
                bad = _offending(imp, root, CLIENT_ALLOWED, allowed=True)
                found += [(name, "the SDK imports") for name in bad]
            if not composition:
                bad = _offending(imp, root, (WIRING,))
                found += [(name, "only zone.server and zone.cli may import") for name in bad]
            if not backend:
                bad = _offending(imp, root, DRIVERS)
                found += [(name, "only zone.state may import the database driver") for name in bad]
            violations += [Violation(module.path, imp.line, f"{why} {n}") for n, why in found]
    return violations


def check(root: Path) -> list[Violation]:
    """Every violation of the architecture rules in the tree at ``root``, in file order.

    Args:
        root: The package directory, such as the repository's ``zone/``.

    Returns:
        The violations, sorted by path and line.
    """
    modules, violations = parse_tree(root)
    violations += check_cycles(modules)
    violations += check_sizes(modules)
    violations += check_layers(modules, root.name)
    return sorted(violations, key=lambda v: (str(v.path), v.line, v.message))


def main(argv: list[str] | None = None) -> int:
    """Print every violation; return 1 if there is any, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args(argv)
    violations = check(args.root)
    for violation in violations:
        print(violation)
    if violations:
        print(f"{len(violations)} architecture violation(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

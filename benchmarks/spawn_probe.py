"""Cost of starting a training worker: spawned processes that only import, timed (a helper).

Run as a script by bench_training.py. It imports nothing heavy itself, so that a spawned child
(which re-imports this file as its main module, as a zone worker re-imports `zone.cli`) pays
only for what its target imports. Each probe starts a process with multiprocessing's `spawn`
method (as the zone's LocalProcessExecutor does) that imports the listed modules in order,
timing each import. Prints one JSON object: {probe: [{"ready": s, "exit": s, "imports":
{module: s}}, ...]}, where `ready` is from `Process.start()` until the child has imported
everything, `exit` from then until it has exited, and `imports` the child's own timing of each
import in turn (a module's time excludes what the modules before it already imported).

    .venv/bin/python benchmarks/spawn_probe.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROBES: dict[str, tuple[str, ...]] = {
    "spawn": (),
    # What a zone job's worker imports, in the worker's order: the server's main module (the
    # spawned child re-imports it), the worker entry point, then the training target, whose
    # heavy dependencies are listed first so that each is timed on its own.
    "worker": (
        "zone.cli",
        "zone.jobs.worker",
        "torch",
        "opacus",
        "duckdb",
        "opendp",
        "zone.products.training.worker",
    ),
}


def child(modules: tuple[str, ...], conn: Connection) -> None:
    times = {}
    for name in modules:
        start = time.perf_counter()
        importlib.import_module(name)
        times[name] = time.perf_counter() - start
    conn.send(times)
    conn.close()


def probe(ctx: Any, modules: tuple[str, ...]) -> dict[str, Any]:
    reader, writer = ctx.Pipe(duplex=False)
    process = ctx.Process(target=child, args=(modules, writer))
    start = time.perf_counter()
    process.start()
    writer.close()
    imports = reader.recv()
    ready = time.perf_counter()
    process.join()
    end = time.perf_counter()
    reader.close()
    if process.exitcode != 0:
        raise SystemExit(f"probe {modules} exited with {process.exitcode}")
    return {"ready": ready - start, "exit": end - ready, "imports": imports}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    report: dict[str, list[dict[str, Any]]] = {name: [] for name in PROBES}
    for _ in range(args.repeats):
        for name, modules in PROBES.items():
            report[name].append(probe(ctx, modules))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

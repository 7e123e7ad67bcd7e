"""SmartNoise SQL as a peer of the zone's DP group-by count (run with benchmarks/.venv-smartnoise).

Not part of the zone: `bench_statistics.py` runs this file with the interpreter of its own
virtualenv (smartnoise-sql 1.0.10 pins opendp <0.15 and pandas <3, which cannot share the
zone's venv). It reads a CSV of one `district` column (one row = one entity, exported from the
zone's DuckDB file), builds SmartNoise's pandas reader (which copies the frame into an
in-memory SQLite database once) and runs

    SELECT district, COUNT(*) AS n FROM enterprises.enterprises GROUP BY district

at the given epsilon (and delta, which SmartNoise needs to censor rare groups) up to
``--queries`` times or for ``--seconds``, whichever comes first. It prints one JSON object:
setup time, per-query latencies, released counts per query, SmartNoise's own privacy cost
estimate, the versions and its peak resident memory.

    benchmarks/.venv-smartnoise/bin/python benchmarks/smartnoise_peer.py --csv d.csv
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings
from importlib import metadata as importlib_metadata

QUERY = "SELECT district, COUNT(*) AS n FROM enterprises.enterprises GROUP BY district"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-6)
    parser.add_argument("--no-censor", action="store_true", help="censor_dims: false")
    args = parser.parse_args()

    warnings.simplefilter("ignore")
    import pandas as pd
    import snsql

    started = time.perf_counter()
    frame = pd.read_csv(args.csv, dtype={"district": str})
    read_s = time.perf_counter() - started
    metadata = {
        "Enterprises": {
            "enterprises": {
                "enterprises": {
                    "row_privacy": True,
                    "censor_dims": not args.no_censor,
                    "rows": len(frame),
                    "district": {"type": "string"},
                }
            }
        }
    }
    privacy = snsql.Privacy(epsilon=args.epsilon, delta=args.delta)
    started = time.perf_counter()
    reader = snsql.from_df(frame, privacy=privacy, metadata=metadata)
    setup_s = time.perf_counter() - started
    cost = reader.get_privacy_cost(QUERY)

    latencies: list[float] = []
    releases: list[dict[str, float]] = []
    deadline = time.monotonic() + args.seconds
    while len(latencies) < args.queries and time.monotonic() < deadline:
        t0 = time.perf_counter()
        rows = reader.execute(QUERY)
        latencies.append(time.perf_counter() - t0)
        header, body = rows[0], rows[1:]
        key, value = header.index("district"), header.index("n")
        releases.append({str(row[key]): float(row[value]) for row in body})

    json.dump(
        {
            "versions": {
                name: importlib_metadata.version(name)
                for name in ("smartnoise-sql", "opendp", "pandas", "SQLAlchemy")
            },
            "query": QUERY,
            "epsilon": args.epsilon,
            "delta": args.delta,
            "censor_dims": not args.no_censor,
            "privacy_cost": list(cost),
            "rows": len(frame),
            "read_csv_s": read_s,
            "setup_s": setup_s,
            "latencies_s": latencies,
            "releases": releases,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

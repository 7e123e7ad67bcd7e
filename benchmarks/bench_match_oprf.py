"""OPRF Match (zone.wire.oprf, zone.products.verification.pet) against raw ristretto255 work.

Measured in one run, interleaved round by round (the median of the rounds is reported):

1. The raw primitive: libsodium's ristretto255 scalar multiplication through rbcl, on one core
   (in this process) and on two worker processes at once (the same pool the zone side uses).
2. The zone's side: claims answered per second for one call of ``--subjects`` subjects, exact
   match (tolerance 0: 2 multiplications per claim) and tolerance 2 (6 per claim), on one core
   and on the pool of two workers (the call split in two runs of subjects). Each claim also
   costs a hash-to-group per tag, an element check and a key derivation.
3. The caller's side: blinding and reading the reply (2 multiplications and an inversion per
   claim), one core.

The ratio that matters (issue 19): the zone's throughput in multiplications per second
(claims/s x multiplications per claim) over the raw primitive's on the same number of cores.

    .venv/bin/python benchmarks/bench_match_oprf.py [--rounds 5] [--subjects 4096]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

import rbcl

from zone.products.verification.pet import ClaimBatch, call_secret, evaluate, new_nonce
from zone.wire.oprf import Blinded, blind_claims, read_matches

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]
PRODUCT, FIELD, UNIT = "bench", "amount", 0.01


def raw_mults(count: int) -> float:
    """Seconds for ``count`` scalar multiplications (runs in a worker too)."""
    scalar = rbcl.crypto_core_ristretto255_scalar_random()
    point = rbcl.crypto_core_ristretto255_random()
    start = time.perf_counter()
    for _ in range(count):
        rbcl.crypto_scalarmult_ristretto255(scalar, point)
    return time.perf_counter() - start


def _timed(work: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def _call(subjects: int, tolerance: int) -> tuple[ClaimBatch, Blinded]:
    names = tuple(f"subject-{i}" for i in range(subjects))
    recorded = tuple(10_000 + (i % 1000) for i in range(subjects))
    claims = [v + (i % 5) - 2 for i, v in enumerate(recorded)]
    blinded = blind_claims(PRODUCT, FIELD, UNIT, names, claims)
    batch = ClaimBatch(PRODUCT, FIELD, UNIT, tolerance, names, recorded, blinded.elements)
    return batch, blinded


def caller_side(batch: ClaimBatch, blinded: Blinded, reply: bytes, tolerance: int) -> list[bool]:
    """The caller's work for one call: blind every claim, then read a reply.

    The claims are blinded afresh (timed) but the reply read is the zone's answer to
    ``blinded`` (the same work: one inversion, one multiplication and a hash per claim).
    """
    codes = [10_000 + (i % 1000) for i in range(len(batch.subjects))]
    blind_claims(PRODUCT, FIELD, UNIT, batch.subjects, codes)
    return read_matches(blinded, reply, tolerance)


def one_round(pool: ProcessPoolExecutor, subjects: int, raw_count: int) -> dict[str, float]:
    """Every measurement once, in a fixed order; rates per second."""
    out: dict[str, float] = {}
    out["raw_mults_1core"] = raw_count / raw_mults(raw_count)
    start = time.perf_counter()
    list(pool.map(raw_mults, [raw_count, raw_count]))
    out["raw_mults_2proc"] = 2 * raw_count / (time.perf_counter() - start)
    secret = call_secret(os.urandom(32), new_nonce())
    for tolerance in (0, 2):
        batch, blinded = _call(subjects, tolerance)
        seconds, reply = _timed(lambda b=batch: evaluate(secret, b, pool, parts=2))
        out[f"zone_t{tolerance}_2proc"] = subjects / seconds
        seconds, _ = _timed(lambda b=batch: evaluate(secret, b))
        out[f"zone_t{tolerance}_1core"] = subjects / seconds
        seconds, matches = _timed(
            lambda b=batch, d=blinded, r=reply, t=tolerance: caller_side(b, d, r, t)
        )
        out[f"caller_t{tolerance}_1core"] = subjects / seconds
        assert sum(matches) == sum(1 for i in range(subjects) if abs((i % 5) - 2) <= tolerance)
    out["loadavg_1min"] = os.getloadavg()[0]
    return out


def main() -> None:
    """Run the rounds, print rates and ratios, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--subjects", type=int, default=4096)
    parser.add_argument("--raw", type=int, default=20_000, help="raw multiplications per core")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "match_oprf.json")
    args = parser.parse_args()
    print(f"cpus={os.cpu_count()} python={platform.python_version()} rbcl=1.1.2")
    print(f"loadavg before: {os.getloadavg()}")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        list(pool.map(raw_mults, [100, 100]))  # start both workers
        rounds = []
        for index in range(args.rounds):
            rounds.append(one_round(pool, args.subjects, args.raw))
            print(
                f"round {index + 1}: " + ", ".join(f"{k}={v:,.0f}" for k, v in rounds[-1].items())
            )
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    per_claim = {0: 2, 2: 6}  # zone multiplications per claim: E, then one per tag
    print("\nmedians (per second):")
    for key, value in median.items():
        print(f"  {key:22s} {value:12,.1f}")
    ratios = {}
    for t, mults in per_claim.items():
        ratios[f"zone_t{t}_2proc_vs_raw_2proc"] = (
            median[f"zone_t{t}_2proc"] * mults / median["raw_mults_2proc"]
        )
        ratios[f"zone_t{t}_1core_vs_raw_1core"] = (
            median[f"zone_t{t}_1core"] * mults / median["raw_mults_1core"]
        )
        ratios[f"caller_t{t}_1core_vs_raw_1core"] = (
            median[f"caller_t{t}_1core"] * 2 / median["raw_mults_1core"]
        )
    ratios["raw_2proc_vs_1core"] = median["raw_mults_2proc"] / median["raw_mults_1core"]
    print("ratios (multiplications per second, against the raw primitive on as many cores):")
    for key, value in ratios.items():
        print(f"  {key:34s} {value:5.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"rounds": rounds, "median": median, "ratios": ratios}, indent=2)
    )
    print(f"loadavg after: {os.getloadavg()}\nwrote {args.out}")


if __name__ == "__main__":
    main()

"""Homomorphic verification through the zone against the same TenSEAL work in-process.

Builds a zone folder (synthetic registry, 70,000 rows by default; the capital-match product with
its abuse limits raised so that repeated rounds are not refused), starts `zone serve` in a child
process on 127.0.0.1:0 and measures, interleaved round by round in one run:

1. Match throughput, claims verified per second end to end (SDK: encode, encrypt, gRPC, key and
   ciphertext checks, lookups, per-subject windows, BFV circuit, receipt, reply, decrypt) for a
   batch of ``--blocks`` x 4,096 subjects (the SDK sends it in calls of ``--per-call``
   subjects, two in flight or one at a time), against the same TenSEAL operations run
   directly in this process on the same data (encrypt, deserialize, add/multiply plaintexts,
   fresh encryption, serialize, deserialize, decrypt). Two cases: the exact claim
   (registered_capital, tolerance 0) and both claims of the product (employees has tolerance 2:
   five reply ciphertexts per block).
2. Score latency for one subject (median) and batch score throughput (4,096 subjects per call),
   end to end against the same TenSEAL work in-process.
3. Key registration: bytes and seconds for the BFV and CKKS public contexts.

Encryptions of zero: the zone (rerandomizing replies) and the SDK (encrypting claims and
features) make them ahead of time while they wait, and spend one per ciphertext
(``zone.wire.fresh``); the raw path encrypts inline. ``--no-precompute`` turns
that off on both sides, so that the zone does exactly the raw path's work plus its own.

Prints ratios and writes JSON (``--out``, default var/bench/verification.json).

    .venv/bin/python benchmarks/bench_verification.py [--rounds 5] [--no-precompute]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tenseal as ts

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from zonekit import TOKENS, make_zone_dir, serve_process  # noqa: E402

from zone.client import ZoneClient  # noqa: E402
from zone.client.he import HEKeys, new_keys  # noqa: E402
from zone.client.health import wait_until_serving  # noqa: E402
from zone.wire.fresh import FreshZeros  # noqa: E402

PRODUCT = "capital-match"
SLOTS = 4096
P = 67_239_937
GOALS = {"match_ratio_min": 0.7, "score_latency_ratio_max": 1.3, "score_batch_ratio_min": 0.7}
WEIGHTS = (1.2, 2.5)  # loan_amount, days_overdue (any weights: the raw path only times the work)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def urandom_mod(count: int, modulus: int) -> np.ndarray:
    raw = np.frombuffer(os.urandom(8 * count), dtype=np.uint64)
    return raw % np.uint64(modulus - 1) + np.uint64(1)


# --- the raw paths: TenSEAL and numpy only ---------------------------------------------------


def raw_match(keys: HEKeys, server: Any, claimed: np.ndarray, recorded: np.ndarray,
              tolerance: int) -> int:  # fmt: skip
    """Encrypt, evaluate the masked differences, decrypt: the same operations as the zone.

    TenSEAL's C++ vectors are used directly (as the zone and the SDK do): the Python wrappers
    copy every operand through numpy again.
    """
    native = ts._ts_cpp.BFVVector
    blocks = [claimed[i : i + SLOTS] for i in range(0, len(claimed), SLOTS)]
    sent = [native(keys.context.data, b.tolist()).serialize() for b in blocks]
    replies = []
    for b, blob in enumerate(sent):
        vector = native(server.data, blob)
        true = recorded[b * SLOTS : (b + 1) * SLOTS]
        keys_rand = np.frombuffer(os.urandom(8 * SLOTS * (2 * tolerance + 1)), dtype=np.uint64)
        offsets = np.argsort(keys_rand.reshape(SLOTS, -1), axis=1) - tolerance
        for k in range(2 * tolerance + 1):
            shift = np.mod(offsets[:, k] - true, P).astype(np.uint64)
            mask = urandom_mod(SLOTS, P)
            fill = np.zeros(SLOTS, dtype=np.uint64)
            out = vector.add_plain(shift.tolist()).mul_plain(mask.tolist())
            out.add_(native(server.data, fill.tolist()))
            replies.append(out.serialize())
    matches = 0
    for blob in replies:
        decrypted = np.asarray(native(keys.context.data, blob).decrypt())
        matches += int(np.count_nonzero(decrypted % P == 0))
    return matches


def raw_score(
    keys: HEKeys, server: Any, features: np.ndarray, zone_part: np.ndarray
) -> list[float]:
    """Encrypt the caller's features, combine with the weights, add Enc(z + noise), decrypt."""
    native = ts._ts_cpp.CKKSVector
    sent = [native(keys.context.data, f.tolist()).serialize() for f in features]
    vectors = [native(server.data, blob) for blob in sent]
    total = None
    for vector, weight in zip(vectors, WEIGHTS, strict=True):
        term = vector.mul_plain([weight] * SLOTS)
        if total is None:
            total = term
        else:
            total.add_(term)
    noise = np.random.default_rng().normal(0, 0.004, SLOTS)
    assert total is not None
    fresh = native(server.data, (zone_part + noise).tolist(), server.global_scale)
    reply = total.add(fresh).serialize()
    return list(native(keys.context.data, reply).decrypt())


# --- set-up ------------------------------------------------------------------------------------


def zone_folder(root: Path, rows: int, per_call: int, precompute: bool = True) -> Path:
    extra = "" if precompute else "verification:\n  precompute_bytes: 0\n"
    config = make_zone_dir(root, rows=rows, extra_config=extra)
    product = config.parent / "models" / "capital-match.yaml"
    text = product.read_text()
    text = text.replace("checks_per_subject: 3", "checks_per_subject: 10000")
    text = text.replace("score_queries_per_model: 200000", "score_queries_per_model: 1000000000")
    text = text.replace("max_subjects_per_call: 16384", f"max_subjects_per_call: {per_call}")
    product.write_text(text)
    return config


def registry(root: Path) -> list[dict[str, str]]:
    with (root / "enterprises.csv").open() as handle:
        return list(csv.DictReader(handle))


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def public_server_context(keys: HEKeys) -> Any:
    context = ts.context_from(keys.public_context(), n_threads=1)
    context.auto_relin = False
    return context


# --- measurements ------------------------------------------------------------------------------


def paired(zone: list[float], raw: list[float]) -> dict[str, float]:
    """Median, lowest and highest of the per-round ratios raw time / zone time.

    Each round's zone and raw runs are adjacent in time: the speed of this machine drifts by
    up to 1.5x over seconds (other tenants), so ratios of medians taken over a whole run mix
    fast and slow periods; paired ratios cancel most of that.
    """
    ratios = [r / z for z, r in zip(zone, raw, strict=True)]
    return {"ratio": round(statistics.median(ratios), 3), "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3)}  # fmt: skip


def _range(result: dict[str, Any]) -> str:
    return f"{result['ratio']} [{result['ratio_min']}, {result['ratio_max']}]"


def _summary(count: int, zone: dict[str, list[float]], raw: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {"raw_per_s": round(count / statistics.median(raw)), "raw_seconds": raw}
    for mode, seconds in zone.items():
        out[mode] = {"zone_per_s": round(count / statistics.median(seconds)),
                     **paired(seconds, raw), "zone_seconds": seconds}  # fmt: skip
    return out


def bench_match(bank: ZoneClient, bfv: HEKeys, rows: list[dict[str, str]], rounds: int,
                blocks: int) -> dict[str, Any]:  # fmt: skip
    """Claims per second: the SDK with 2 calls in flight (pipelined) and 1 (sequential)."""
    server = public_server_context(bfv)
    n = blocks * SLOTS
    picked = rows[:n]
    subjects = [r["uscc"] for r in picked]
    capital = [float(r["registered_capital"]) for r in picked]
    employees = [int(r["employees"]) for r in picked]
    capital_codes = np.rint(np.array(capital) * 100).astype(np.int64)
    employee_codes = np.array(employees, dtype=np.int64)
    out: dict[str, Any] = {"subjects": n}
    cases = {
        "exact": ({"registered_capital": capital}, [(capital_codes, 0)]),
        "product": (
            {"registered_capital": capital, "employees": employees},
            [(capital_codes, 0), (employee_codes, 2)],
        ),
    }
    for name, (claims, raw_claims) in cases.items():
        bank.match(PRODUCT, bfv, subjects[:SLOTS], {k: v[:SLOTS] for k, v in claims.items()},
                   purpose="warm-up")  # fmt: skip
        zone: dict[str, list[float]] = {"pipelined": [], "sequential": []}
        raw: list[float] = []
        for _ in range(rounds):
            for mode, in_flight in (("pipelined", 2), ("sequential", 1)):
                start = time.perf_counter()
                report = bank.match(PRODUCT, bfv, subjects, claims, purpose="benchmark",
                                    in_flight=in_flight)  # fmt: skip
                zone[mode].append(time.perf_counter() - start)
                assert set(report.statuses) == {"MATCH"}
            with bfv.zeros.computing():  # the SDK's precomputation must not slow the raw path
                start = time.perf_counter()
                for codes, tolerance in raw_claims:
                    assert raw_match(bfv, server, codes, codes, tolerance) == n
                raw.append(time.perf_counter() - start)
        out[name] = _summary(n * len(claims), zone, raw)
        result = out[name]
        ratios = (result["pipelined"]["ratio"], result["sequential"]["ratio"])
        log(f"match {name}: raw {result['raw_per_s']:,}/s; ratios pipelined, sequential {ratios}")
    return out


def bench_score(bank: ZoneClient, ckks: HEKeys, rows: list[dict[str, str]], reps: int,
                rounds: int, blocks: int) -> dict[str, Any]:  # fmt: skip
    """One-subject latency (median) and batch throughput, against the same work in-process."""
    server = public_server_context(ckks)
    rng = np.random.default_rng(1)
    one, raw_one = [], []
    features = {"loan_amount": 1000.0, "days_overdue": 5.0}
    bank.score(PRODUCT, ckks, rows[0]["uscc"], features, purpose="warm-up")
    for i in range(reps):
        start = time.perf_counter()
        bank.score(PRODUCT, ckks, rows[i]["uscc"], features, purpose="bench")
        one.append(time.perf_counter() - start)
        single = np.zeros((2, SLOTS))
        single[:, 0] = rng.random(2)
        with ckks.zeros.computing():
            start = time.perf_counter()
            raw_score(ckks, server, single, np.zeros(SLOTS))
            raw_one.append(time.perf_counter() - start)
    n = blocks * SLOTS
    subjects = [r["uscc"] for r in rows[:n]]
    batch_features = {"loan_amount": list(rng.random(n) * 5000),
                      "days_overdue": list(rng.random(n) * 365)}  # fmt: skip
    zone: dict[str, list[float]] = {"pipelined": [], "sequential": []}
    raw: list[float] = []
    for _ in range(rounds):
        for mode, in_flight in (("pipelined", 2), ("sequential", 1)):
            start = time.perf_counter()
            bank.score_batch(PRODUCT, ckks, subjects, batch_features, purpose="bench",
                             in_flight=in_flight)  # fmt: skip
            zone[mode].append(time.perf_counter() - start)
        with ckks.zeros.computing():
            start = time.perf_counter()
            for _ in range(blocks):
                raw_score(ckks, server, rng.random((2, SLOTS)), rng.random(SLOTS))
            raw.append(time.perf_counter() - start)
    latency, raw_latency = statistics.median(one), statistics.median(raw_one)
    inverse = paired(raw_one, one)  # zone time / raw time, per repetition
    batch = _summary(n, zone, raw)
    log(f"score latency: zone {latency * 1000:.1f} ms raw {raw_latency * 1000:.1f} ms "
        f"ratio {inverse['ratio']:.2f}; batch pipelined {batch['pipelined']['ratio']}, "
        f"sequential {batch['sequential']['ratio']}")  # fmt: skip
    return {
        "latency_ms": {"zone_median": latency * 1000, "raw_median": raw_latency * 1000,
                       **inverse, "zone": one, "raw": raw_one},
        "batch": {"subjects": n, **batch},
    }  # fmt: skip


def bench_keys(bank: ZoneClient) -> dict[str, Any]:
    out = {}
    for name in ("bfv-4096", "ckks-8192"):
        keys = new_keys(name)
        size = len(keys.public_context())
        seconds = timed(lambda keys=keys: bank.register_key(keys))
        out[name] = {"public_context_bytes": size, "register_seconds": round(seconds, 3)}
        log(f"register {name}: {size:,} bytes in {seconds * 1000:.0f} ms")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=70_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--score-reps", type=int, default=30)
    parser.add_argument("--score-blocks", type=int, default=4)
    parser.add_argument("--per-call", type=int, default=16384)
    parser.add_argument(
        "--no-precompute",
        action="store_true",
        help="make every encryption of zero during the calls (zone and SDK), as the raw path does",
    )
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "verification.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-verification-") as folder:
        root = Path(folder)
        log(f"building a zone with {args.rows:,} rows")
        config = zone_folder(root, args.rows, args.per_call, precompute=not args.no_precompute)
        rows = registry(root)
        proc, address = serve_process(config)
        try:
            wait_until_serving(address)
            bank = ZoneClient(address, token=TOKENS["bank"], timeout=120)
            report: dict[str, Any] = {"machine": platform.platform(), "cpus": os.cpu_count(),
                                      "precompute": not args.no_precompute}  # fmt: skip
            report["keys"] = bench_keys(bank)
            bfv, ckks = new_keys("bfv-4096"), new_keys("ckks-8192")
            if args.no_precompute:
                bfv.zeros = ckks.zeros = FreshZeros(0)
            bank.register_key(bfv)
            bank.register_key(ckks)
            report["match"] = bench_match(bank, bfv, rows, args.rounds, args.blocks)
            report["score"] = bench_score(
                bank, ckks, rows, args.score_reps, args.rounds, args.score_blocks
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            if proc.stdout:
                proc.stdout.close()
    report["goals"] = GOALS
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["keys"], indent=2))
    print(f"precompute {'on' if report['precompute'] else 'off'}; ratios: median of per-round "
          "paired ratios [lowest, highest]")  # fmt: skip
    for case in ("exact", "product"):
        match = report["match"][case]
        print(f"match {case}: raw {match['raw_per_s']:,} claims/s; zone pipelined "
              f"{match['pipelined']['zone_per_s']:,}/s (ratio {_range(match['pipelined'])}), "
              f"sequential {match['sequential']['zone_per_s']:,}/s (ratio "
              f"{_range(match['sequential'])}); goal >= 0.7")  # fmt: skip
    score = report["score"]
    print(f"score latency: zone {score['latency_ms']['zone_median']:.1f} ms, raw "
          f"{score['latency_ms']['raw_median']:.1f} ms, ratio {_range(score['latency_ms'])}; "
          "goal <= 1.3")  # fmt: skip
    batch = score["batch"]
    print(f"score batch: raw {batch['raw_per_s']:,} subjects/s; zone pipelined "
          f"{batch['pipelined']['zone_per_s']:,}/s (ratio {_range(batch['pipelined'])}), "
          f"sequential {batch['sequential']['zone_per_s']:,}/s (ratio "
          f"{_range(batch['sequential'])}); goal >= 0.7")  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

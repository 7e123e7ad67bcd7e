"""Verification through the zone against the same work in-process: Match (OPRF) and Score (CKKS).

Builds a zone folder (synthetic registry, 70,000 rows by default; the capital-match product with
its abuse limits raised so that repeated rounds are not refused, and ``consent: none``; a copy,
capital-consent, that requires operator consent, with consents registered for every subject),
starts `zone serve` in a child process on 127.0.0.1:0 (Match workers: ``--workers``, default 2)
and measures, interleaved round by round in one run:

1. Match, claims verified per second end to end (SDK: encode, blind, gRPC, element checks,
   lookups, consents, per-subject windows, OPRF evaluation in the worker processes, receipt,
   reply, unblind and read) for ``--subjects`` subjects (sent in calls of ``--per-call``, two in
   flight or one at a time), against the raw primitive in this process on one core: the same
   protocol with ``zone.wire.oprf`` and ``pet.evaluate_batch`` (blind, evaluate, read: no zone),
   and libsodium's ristretto255 scalar multiplications through rbcl. Cases: the exact claim
   (registered_capital, tolerance 0), both claims (employees has tolerance 2: five more tags
   per subject), and the exact claim with a consent per subject.
2. Score latency for one subject (median) and batch score throughput (``--score-blocks`` x 4,096
   subjects, in calls of ``--per-call``), end to end against the same TenSEAL work in-process:
   whole 4,096-slot blocks for the batch; for one subject both features in one ciphertext,
   as the SDK packs calls of at most 2,048 subjects (``ScoreRequest.lanes``).
3. Key registration (CKKS public context): bytes and seconds.

The load average is printed before and after (this machine's 2 cores are shared: the zone's
client, server and workers compete with other tenants, while the raw path runs alone on one).
Prints ratios and writes JSON (``--out``, default var/bench/verification.json).

    .venv/bin/python benchmarks/bench_verification.py [--rounds 3] [--no-precompute]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import rbcl
import tenseal as ts

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from zonekit import TOKENS, make_zone_dir, serve_process  # noqa: E402

from zone.client import ZoneClient  # noqa: E402
from zone.client.he import HEKeys, new_keys  # noqa: E402
from zone.client.health import wait_until_serving  # noqa: E402
from zone.consent import register  # noqa: E402
from zone.products.verification.pet import (  # noqa: E402
    ClaimBatch,
    call_secret,
    evaluate_batch,
    new_nonce,
)
from zone.state import StateStore  # noqa: E402
from zone.wire.fresh import FreshZeros  # noqa: E402
from zone.wire.oprf import blind_claims, read_matches  # noqa: E402

PRODUCT = "capital-match"
SLOTS = 4096
WEIGHTS = (1.2, 2.5)  # loan_amount, days_overdue (any weights: the raw path only times the work)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the raw paths: the OPRF primitives and TenSEAL, in this process -------------------------


def raw_mults(count: int) -> float:
    """Scalar multiplications per second on one core (libsodium through rbcl)."""
    scalar = rbcl.crypto_core_ristretto255_scalar_random()
    point = rbcl.crypto_core_ristretto255_random()
    start = time.perf_counter()
    for _ in range(count):
        rbcl.crypto_scalarmult_ristretto255(scalar, point)
    return count / (time.perf_counter() - start)


def raw_match(subjects: list[str], claims: list[tuple[str, float, int, list[int]]]) -> int:
    """The Match protocol without the zone, one core: blind, evaluate, read. Matches found."""
    secret = call_secret(os.urandom(32), new_nonce())
    found = 0
    for name, unit, tolerance, codes in claims:
        blinded = blind_claims(PRODUCT, name, unit, subjects, codes)
        batch = ClaimBatch(PRODUCT, name, unit, tolerance, tuple(subjects), tuple(codes),
                           blinded.elements)  # fmt: skip
        found += sum(read_matches(blinded, evaluate_batch(secret, batch), tolerance))
    return found


def raw_score(
    keys: HEKeys, server: Any, features: np.ndarray, zone_part: np.ndarray, count: int = SLOTS
) -> list[float]:
    """Encrypt the caller's features, combine with the weights, add Enc(z + noise), decrypt.

    ``count`` subjects (at most ``SLOTS``); at most ``SLOTS / 2`` are packed two features to a
    ciphertext and the lanes summed after decrypting, as the SDK and the zone do: the least
    CKKS work for the same answer, so the reference does not carry a half-empty ciphertext.
    """
    native = ts._ts_cpp.CKKSVector
    lanes = 2 if count <= SLOTS // 2 else 1
    width = SLOTS // lanes
    planes = np.zeros((len(WEIGHTS) // lanes, SLOTS))
    weights = np.zeros((len(WEIGHTS) // lanes, SLOTS))
    for j, weight in enumerate(WEIGHTS):
        lane = j % lanes
        planes[j // lanes, lane * width : lane * width + count] = features[j, :count]
        weights[j // lanes, lane * width : lane * width + count] = weight
    sent = [native(keys.context.data, p.tolist()).serialize() for p in planes]
    vectors = [native(server.data, blob) for blob in sent]
    total = None
    for vector, weight in zip(vectors, weights, strict=True):
        term = vector.mul_plain(weight.tolist())
        if total is None:
            total = term
        else:
            total.add_(term)
    noise = np.random.default_rng().normal(0, 0.004, SLOTS)
    assert total is not None
    fresh = native(server.data, (zone_part + noise).tolist(), server.global_scale)
    reply = np.asarray(native(keys.context.data, total.add(fresh).serialize()).decrypt())
    return list(reply[: lanes * width].reshape(lanes, width).sum(axis=0)[:count])


# --- set-up ------------------------------------------------------------------------------------


CONSENTED = "capital-consent"


def zone_folder(root: Path, rows: int, per_call: int, workers: int, precompute: bool) -> Path:
    extra = f"verification:\n  workers: {workers}\n"
    extra += "" if precompute else "  precompute_bytes: 0\n"
    config = make_zone_dir(root, rows=rows, extra_config=extra)
    product = config.parent / "models" / "capital-match.yaml"
    text = product.read_text()
    text = text.replace("checks_per_subject: 3", "checks_per_subject: 10000")
    text = text.replace("score_queries_per_model: 200000", "score_queries_per_model: 1000000000")
    text = text.replace("max_subjects_per_call: 16384", f"max_subjects_per_call: {per_call}")
    product.write_text(text.replace("consent: operator", "consent: none"))
    consented = text.replace("id: capital-match", f"id: {CONSENTED}")
    (config.parent / "models" / f"{CONSENTED}.yaml").write_text(consented)
    (config.parent / "policies" / "bench.yaml").write_text(
        f"grants:\n  - {{principal: bank-a, products: [{CONSENTED}], purpose: benchmark}}\n"
    )
    return config


def register_consents(state_db: Path, subjects: list[str], uses: int) -> list[str]:
    """A consent of bank-a per subject for capital-consent (written before the zone starts)."""
    now = datetime.now(UTC)
    store = StateStore.open(state_db)
    try:
        with store.write() as tx:
            return [
                register(tx, principal="bank-a", product=CONSENTED, subject=s,
                         purpose="benchmark", not_before=now - timedelta(minutes=1),
                         not_after=now + timedelta(days=1), max_uses=uses,
                         letter_sha256="ab" * 32, now=now).consent_id
                for s in subjects
            ]  # fmt: skip
    finally:
        store.close()


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


def bench_match(bank: ZoneClient, rows: list[dict[str, str]], consents: list[str],
                rounds: int, count: int) -> dict[str, Any]:  # fmt: skip
    """Claims per second: the SDK with 2 calls in flight (pipelined) and 1 (sequential)."""
    picked = rows[:count]
    subjects = [r["uscc"] for r in picked]
    capital = [float(r["registered_capital"]) for r in picked]
    employees = [int(r["employees"]) for r in picked]
    capital_codes = [round(c * 100) for c in capital]
    exact = [("registered_capital", 0.01, 0, capital_codes)]
    both = [*exact, ("employees", 1.0, 2, employees)]
    out: dict[str, Any] = {"subjects": count}
    cases = {
        "exact": (PRODUCT, {"registered_capital": capital}, exact, ()),
        "product": (PRODUCT, {"registered_capital": capital, "employees": employees}, both, ()),
        "exact_consent": (CONSENTED, {"registered_capital": capital}, exact, consents),
    }
    for name, (product, claims, raw_claims, refs) in cases.items():
        part = {k: v[:512] for k, v in claims.items()}
        bank.match(product, subjects[:512], part, purpose="benchmark", consents=refs[:512])
        modes = (("pipelined", 2), ("sequential", 1)) if name == "exact" else (("pipelined", 2),)
        zone: dict[str, list[float]] = {mode: [] for mode, _ in modes}
        raw: list[float] = []
        for _ in range(rounds):
            for mode, in_flight in modes:
                start = time.perf_counter()
                report = bank.match(product, subjects, claims, purpose="benchmark",
                                    consents=refs, in_flight=in_flight)  # fmt: skip
                zone[mode].append(time.perf_counter() - start)
                assert set(report.statuses) == {"MATCH"}, set(report.statuses)
            start = time.perf_counter()
            assert raw_match(subjects, raw_claims) == count * len(raw_claims)
            raw.append(time.perf_counter() - start)
        out[name] = _summary(count * len(claims), zone, raw)
        result = out[name]
        log(
            f"match {name}: raw {result['raw_per_s']:,} claims/s; zone pipelined "
            f"{result['pipelined']['zone_per_s']:,}/s, ratio {result['pipelined']['ratio']}"
        )
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
            raw_score(ckks, server, single, np.zeros(SLOTS), count=1)
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
    for name in ("ckks-8192",):
        keys = new_keys(name)
        size = len(keys.public_context())
        seconds = timed(lambda keys=keys: bank.register_key(keys))
        out[name] = {"public_context_bytes": size, "register_seconds": round(seconds, 3)}
        log(f"register {name}: {size:,} bytes in {seconds * 1000:.0f} ms")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=70_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--subjects", type=int, default=16384)
    parser.add_argument("--per-call", type=int, default=4096)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--raw-mults", type=int, default=20_000)
    parser.add_argument("--score-reps", type=int, default=30)
    parser.add_argument("--score-blocks", type=int, default=4)
    parser.add_argument(
        "--no-precompute",
        action="store_true",
        help="make every encryption of zero during the calls (zone and SDK), as the raw path does",
    )
    parser.add_argument("--skip-match", action="store_true", help="measure Score and keys only")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "verification.json")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    log(f"load average before: {load_before}")
    with tempfile.TemporaryDirectory(prefix="bench-verification-") as folder:
        root = Path(folder)
        log(f"building a zone with {args.rows:,} rows")
        config = zone_folder(root, args.rows, args.per_call, args.workers,
                             precompute=not args.no_precompute)  # fmt: skip
        rows = registry(root)
        subjects = [r["uscc"] for r in rows[: args.subjects]]
        consents = register_consents(root / "state.sqlite", subjects, uses=10 * args.rounds + 10)
        proc, address = serve_process(config)
        try:
            wait_until_serving(address)
            bank = ZoneClient(address, token=TOKENS["bank"], timeout=300)
            report: dict[str, Any] = {"machine": platform.platform(), "cpus": os.cpu_count(),
                                      "precompute": not args.no_precompute,
                                      "workers": args.workers}  # fmt: skip
            report["keys"] = bench_keys(bank)
            ckks = new_keys("ckks-8192")
            if args.no_precompute:
                ckks.zeros = FreshZeros(0)
            bank.register_key(ckks)
            mults = [raw_mults(args.raw_mults) for _ in range(3)]
            report["raw_mults_per_s"] = round(statistics.median(mults))
            if not args.skip_match:
                report["match"] = bench_match(bank, rows, consents, args.rounds, args.subjects)
            report["score"] = bench_score(
                bank, ckks, rows, args.score_reps, args.rounds, args.score_blocks
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            if proc.stdout:
                proc.stdout.close()
    report["load_average"] = {"before": load_before, "after": os.getloadavg()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["keys"], indent=2))
    print(f"load average before {load_before}, after {report['load_average']['after']} "
          f"({os.cpu_count()} cpus); Match workers {args.workers}")  # fmt: skip
    print(f"raw ristretto255 scalar multiplications: {report['raw_mults_per_s']:,}/s on one core")
    print("ratios: zone / raw, median of per-round paired ratios [lowest, highest]; raw = the "
          "same protocol in this process, one core, no zone")  # fmt: skip
    for case in ("exact", "product", "exact_consent") if "match" in report else ():
        match = report["match"][case]
        line = (
            f"match {case}: raw {match['raw_per_s']:,} claims/s; zone pipelined "
            f"{match['pipelined']['zone_per_s']:,}/s (ratio {_range(match['pipelined'])})"
        )
        if "sequential" in match:
            line += (f", sequential {match['sequential']['zone_per_s']:,}/s (ratio "
                     f"{_range(match['sequential'])})")  # fmt: skip
        print(line)
    score = report["score"]
    print(
        f"score latency: zone {score['latency_ms']['zone_median']:.1f} ms, raw "
        f"{score['latency_ms']['raw_median']:.1f} ms, ratio {_range(score['latency_ms'])}"
    )
    batch = score["batch"]
    print(f"score batch: raw {batch['raw_per_s']:,} subjects/s; zone pipelined "
          f"{batch['pipelined']['zone_per_s']:,}/s (ratio {_range(batch['pipelined'])}), "
          f"sequential {batch['sequential']['zone_per_s']:,}/s (ratio "
          f"{_range(batch['sequential'])})")  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

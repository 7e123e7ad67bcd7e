"""Reading leaked files and tracing them to the release they came from (training-like artifacts).

Statistics releases are traced end to end in tests/integration/test_receipts_api.py.
"""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from zone.audit import AuditChain, ReleasedArtifact, ReleaseRegistry, open_state_readonly
from zone.audit.leaked import quantum_of, read_leaked
from zone.audit.releases import read_releases
from zone.audit.trace import TraceResult, trace
from zone.errors import InvalidArgument
from zone.state import StateStore

FEATURES = [f"feature_{i}" for i in range(12)] + ["industry=retail", "industry=mining"]
RELEASES = 10


def sig3(x: float) -> str:
    return f"{x:.3g}"


@pytest.mark.parametrize(
    ("text", "quantum"),
    [("0.123", 1e-3), ("-0.00120", 1e-4), ("125", 1), ("125.0", 1), ("12300", 100),
     ("1.2345e+06", 100), ("1e-05", 1e-5), ("0", 1), ("0.0", 1), ("-7", 1)],
)  # fmt: skip
def test_quantum_is_the_place_of_the_last_nonzero_digit(text: str, quantum: float) -> None:
    assert quantum_of(text) == pytest.approx(quantum)


def test_files_that_hold_no_numbers_are_refused() -> None:
    for data in (b"", b"a,b\nc,d\n", b"{}", b"\xff\xfe", b"{oops"):
        with pytest.raises(InvalidArgument):
            read_leaked(data)


def test_leaked_json_with_a_repeated_key_is_refused() -> None:
    assert read_leaked(b'{"a": 1.5, "b": 2.5}').labelled["a"].value == 1.5
    for data in (b'{"a": 1.5, "a": 2.5}', b'{"weights": {"x": 1, "y": 2, "x": 3}}'):
        with pytest.raises(InvalidArgument, match="repeats the key"):
            read_leaked(data)


def test_csv_forms_keep_labels_with_their_values() -> None:
    wide = read_leaked(b"b,a,intercept\n0.25,-1.5,3\n")
    assert {k: v.value for k, v in wide.labelled.items()} == {"b": 0.25, "a": -1.5, "intercept": 3}
    long = read_leaked(b"weight,feature\n0.25,b\n-1.5,a\n")
    assert {k: v.value for k, v in long.labelled.items()} == {"b": 0.25, "a": -1.5}
    bare = read_leaked(b"0.25,-1.5\n3,4\n")
    assert not bare.labelled and [v.value for v in bare.values] == [0.25, -1.5, 3, 4]
    stats = read_leaked(b"values,measure,group\n12 13,histogram(x),north\n5,count(),*\n")
    assert {k: v.value for k, v in stats.labelled.items()} == {
        "histogram(x)|north|0": 12, "histogram(x)|north|1": 13, "count()|*|0": 5,
    }  # fmt: skip


def _weights(rng: random.Random) -> dict[str, object]:
    """A logistic regression as DP-SGD releases it: shared signal plus per-release noise."""
    base = [0.8, -0.4, 0.3, 1.2, -0.9, 0.05, 0.6, -0.2, 0.45, -1.1, 0.7, 0.15, -0.3, 0.25]
    return {
        "family": "logistic_regression",
        "features": FEATURES,
        "weights": [w + rng.gauss(0, 0.05) for w in base],
        "intercept": -0.6 + rng.gauss(0, 0.05),
        "metrics": {"accuracy": round(0.82 + rng.gauss(0, 0.01), 4)},
        "kept_in_zone": False,
    }


@pytest.fixture
def releases(store: StateStore, chain: AuditChain) -> list[dict[str, object]]:
    """Several training results (and a few unrelated ones) in the real registry."""
    registry = ReleaseRegistry(store, chain)
    rng = random.Random(11)
    artifacts = [_weights(rng) for _ in range(RELEASES)]
    for i, artifact in enumerate(artifacts):
        registry.record(
            {
                "release_id": f"train-{i}", "time": "t", "principal": f"bank-{i % 4}",
                "product": "enterprise-default-lr", "dataset_version": "v", "policy_digest": "p",
                "code_version": "c", "epsilon_micro": 1_000_000, "delta_femto": 1_000_000_000,
                "output_digest": f"sha256:{i}",
            },
            ReleasedArtifact("training", artifact),
        )  # fmt: skip
    return artifacts


def _trace(store: StateStore, data: bytes) -> TraceResult:
    with open_state_readonly(store.path) as conn:
        return trace(read_leaked(data), read_releases(conn))


def _leaked_json(artifact: dict[str, object]) -> bytes:
    weights = artifact["weights"]
    assert isinstance(weights, list)
    doc = {
        "features": artifact["features"],
        "weights": [float(sig3(w)) for w in weights],
        "intercept": float(sig3(float(artifact["intercept"]))),  # type: ignore[arg-type]
    }
    return json.dumps(doc).encode()


def _leaked_csv(artifact: dict[str, object], *, header: bool, seed: int) -> bytes:
    names = [*artifact["features"], "intercept"]  # type: ignore[misc]
    values = [*artifact["weights"], artifact["intercept"]]  # type: ignore[misc]
    order = list(range(len(names)))
    random.Random(seed).shuffle(order)
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow([names[j] for j in order])
    writer.writerow([sig3(values[j]) for j in order])
    return out.getvalue().encode()


@pytest.mark.parametrize("leaked", [3, 7])
def test_rounded_and_shuffled_leaks_trace_back_to_their_release(
    store: StateStore, releases: list[dict[str, object]], leaked: int
) -> None:
    artifact = releases[leaked]
    for data, mode in (
        (_leaked_json(artifact), "keyed"),
        (_leaked_csv(artifact, header=True, seed=leaked), "keyed"),
        (_leaked_csv(artifact, header=False, seed=leaked), "unkeyed"),
    ):
        result = _trace(store, data)
        assert result.mode == mode
        assert result.best is not None and result.best.release_id == f"train-{leaked}"
        assert result.best.principal == f"bank-{leaked % 4}"
        assert result.confident, result
        assert result.best.score >= 0.9 and result.margin >= 0.5
        assert len(result.ranked) == RELEASES


def test_an_unrelated_artifact_is_no_confident_match(
    store: StateStore, releases: list[dict[str, object]]
) -> None:
    rng = random.Random(5)
    unrelated = _weights(rng)  # same model family, same features, its own noise: never released
    for data in (_leaked_json(unrelated), _leaked_csv(unrelated, header=False, seed=1)):
        result = _trace(store, data)
        assert not result.confident
        assert result.best is not None and result.best.score < 0.5
    noise = ",".join(sig3(rng.uniform(-2, 2)) for _ in range(15)).encode()
    assert not _trace(store, noise).confident


def test_too_few_numbers_are_never_a_confident_match(
    store: StateStore, releases: list[dict[str, object]]
) -> None:
    weights = releases[2]["weights"]
    assert isinstance(weights, list)
    result = _trace(store, f"{weights[0]!r},{weights[1]!r}\n".encode())
    assert result.best is not None and result.best.release_id == "train-2"
    assert result.best.score > 0 and not result.confident

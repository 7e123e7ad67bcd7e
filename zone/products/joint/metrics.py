"""DP metrics of a joint model on its held-out rows, for replace-one on the zone side.

The held-out rows are drawn from the cohort in the worker (each row with probability 0.2, OS
entropy), so which rows they are, how many, and their labels (the operator's own) do not depend
on the zone's data: between neighbouring joined tables (one row's zone part changed) only that
row's prediction can change. So each released aggregate below has a sensitivity that is a
function of public-to-the-operator facts, and the noisy aggregate is divided by an exact count:

* ``accuracy = noisy(correct) / n``: one prediction changes ``correct`` by at most 1.
* ``auc`` (Mann-Whitney): ``2U`` (twice the concordant positive/negative pairs, ties counted
  half) is an integer; one row's score moves at most ``max(P, N)`` pairs by at most 1, so ``2U``
  by at most ``2 max(P, N)``; ``auc = noisy(2U) / (2 P N)``. Not released when a class is empty.
* ``rmse`` (linear regression): ``sqrt(noisy(SSE) / n)`` in label units, each squared error on
  the [0, 1]-scaled label with the prediction clamped to [0, 1], counted in integer units of
  ``SSE_UNIT`` (sensitivity ``1 / SSE_UNIT`` units).

Each is OpenDP's discrete Laplace (``release_laplace``, privacy map checked); classification
splits ``epsilon_metrics`` evenly over accuracy and AUC. Results are clamped to their ranges.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata  # type: ignore[import-untyped]

from zone.products.statistics.mechanisms import laplace_scale, release_laplace

F64 = npt.NDArray[np.float64]
SSE_UNIT = 1e-4
MECHANISM = (
    "discrete_laplace (OpenDP make_laplace) with replace-one sensitivities over the held-out "
    "rows: accuracy and AUC split epsilon_metrics evenly (RMSE takes all of it)"
)


def _noisy(value: int, sensitivity: int, epsilon: float) -> int:
    return release_laplace([value], sensitivity, laplace_scale(sensitivity, epsilon), epsilon)[0]


def twice_u(scores: F64, positive: npt.NDArray[np.bool_]) -> int:
    """Twice the Mann-Whitney U of the positives' scores against the negatives' (an integer)."""
    ranks = rankdata(scores)  # average ranks: ties count half
    p = int(positive.sum())
    return int(round(2 * float(ranks[positive].sum()) - p * (p + 1)))


def classification(outputs: F64, targets: F64, epsilon: float) -> dict[str, float]:
    """DP accuracy and AUC of logits ``outputs`` against 0/1 ``targets``."""
    n = len(targets)
    if n == 0:
        return {}
    positive = targets >= 0.5
    correct = int(np.count_nonzero((outputs >= 0.0) == positive))
    half = epsilon / 2
    released = {"accuracy": min(max(_noisy(correct, 1, half) / n, 0.0), 1.0)}
    p, negatives = int(positive.sum()), int(n - positive.sum())
    if p and negatives:
        noisy = _noisy(twice_u(outputs, positive), 2 * max(p, negatives), half)
        released["auc"] = min(max(noisy / (2 * p * negatives), 0.0), 1.0)
    return released


def regression(predictions: F64, targets: F64, epsilon: float, span: float) -> dict[str, float]:
    """DP RMSE (label units) of [0, 1]-scaled ``predictions`` against scaled ``targets``."""
    n = len(targets)
    if n == 0:
        return {}
    squared = np.clip((np.clip(predictions, 0.0, 1.0) - targets) ** 2, 0.0, 1.0)
    units = int(np.rint(squared / SSE_UNIT).astype(np.int64).sum())
    sse = _noisy(units, round(1 / SSE_UNIT), epsilon) * SSE_UNIT
    return {"rmse": math.sqrt(min(max(sse / n, 0.0), 1.0)) * span}

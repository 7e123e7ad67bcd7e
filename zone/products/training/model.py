"""Model families, their losses, a batch-returning dataset and the released weights (torch).

Imported only in worker processes.

* ``logistic_regression``: ``nn.Linear(d, 1)`` on the scaled inputs, ``BCEWithLogitsLoss``.
* ``linear_regression``: ``nn.Linear(d, 1)`` predicting the label scaled to [0, 1], ``MSELoss``;
  the released weights and intercept are mapped back to label units (post-processing):
  ``prediction = intercept + weights . x`` with ``x`` scaled as ``scaling`` says.
* ``mlp``: ``Linear(d, hidden_width) -> ReLU -> Linear(hidden_width, 1)``, a binary classifier
  (``BCEWithLogitsLoss``); every layer's weights and biases are released.

Losses use ``reduction="sum"``: per-example gradients are clipped by Opacus and the noisy sum is
divided by the public expected batch size through the learning rate (see ``dpsgd``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from zone.errors import ZoneError
from zone.products.training.spec import TrainingSpec


class BatchDataset(Dataset[tuple[Tensor, Tensor]]):
    """Rows held as two tensors; ``__getitems__`` returns a whole batch at once.

    The DataLoader calls ``__getitems__`` with the indices Poisson sampling picked (possibly
    none: then both tensors have zero rows), which is much faster than one row at a time.
    """

    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x = x
        self.y = y

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.x[index], self.y[index]

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        return self.batch(indices)

    def batch(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        """The rows at ``indices`` (a batch sampler's list), as two tensors."""
        rows = torch.as_tensor(indices, dtype=torch.long, device=self.x.device)
        return self.x[rows], self.y[rows]


def entropy_generator(device: torch.device) -> torch.Generator:
    """A generator seeded by torch from the OS's entropy (``std::random_device``).

    Never the caller's seed and never torch's global generator, whose seed is a fixed constant
    in a fresh process.
    """
    generator = torch.Generator(device=device)
    generator.seed()
    return generator


def split_rows(
    x: Tensor, y: Tensor, fraction: float
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """((train_x, train_y), (val_x, val_y)): each row to validation with probability ``fraction``.

    Each row's assignment is drawn independently from OS entropy, so adding or removing one row
    changes each part by at most that row (and the caller's seed cannot fix the split).
    """
    to_validation = torch.rand(len(y), generator=entropy_generator(torch.device("cpu"))) < fraction
    return (x[~to_validation], y[~to_validation]), (x[to_validation], y[to_validation])


def keep_batch(batch: Any) -> Any:
    """Collate function for :class:`BatchDataset`: the batch is already collated."""
    return batch


def build_model(spec: TrainingSpec, inputs: int) -> nn.Module:
    """A fresh model of the spec's family, initialised from ``spec.seed`` (public randomness)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        if spec.family == "mlp":
            width = spec.hidden_width or 1
            return nn.Sequential(nn.Linear(inputs, width), nn.ReLU(), nn.Linear(width, 1))
        return nn.Linear(inputs, 1)


def build_loss(spec: TrainingSpec) -> nn.Module:
    """The summed loss of the spec's family."""
    if spec.family == "linear_regression":
        return nn.MSELoss(reduction="sum")
    return nn.BCEWithLogitsLoss(reduction="sum")


class TailAverage:
    """Uniform average of the model's parameters over the steps from ``first_step`` on.

    Post-processing of the DP-SGD iterates (every step's noisy gradient is accounted), so the
    average is as private as the last iterate, and on UCI Adult much less noisy.
    """

    def __init__(self, model: torch.nn.Module, first_step: int) -> None:
        self._params = list(model.parameters())
        self._first = first_step
        self._step = 0
        self._sum = [torch.zeros_like(p) for p in self._params]
        self._count = 0

    @torch.no_grad()
    def update(self) -> None:
        """Count one optimizer step; add the parameters once in the tail."""
        self._step += 1
        if self._step >= self._first:
            for total, p in zip(self._sum, self._params, strict=True):
                total.add_(p)
            self._count += 1

    @torch.no_grad()
    def apply(self) -> None:
        """Replace the parameters by their tail average."""
        if self._count:
            for total, p in zip(self._sum, self._params, strict=True):
                p.copy_(total / self._count)


class NotFinite(ZoneError):
    """Training produced non-finite weights (a function of DP outputs only, so safe to say)."""

    def __init__(self) -> None:
        super().__init__(
            "training diverged (non-finite weights); try a lower learning_rate",
            reason="training_diverged",
        )


def _values(tensor: Tensor) -> Any:
    values = tensor.detach().double().cpu()
    if not bool(torch.isfinite(values).all()):
        raise NotFinite()
    return values.tolist()


def released_weights(spec: TrainingSpec, model: nn.Module) -> tuple[Any, Any]:
    """(weights, intercept) as JSON-able lists/floats; regression mapped to label units."""
    if isinstance(model, nn.Sequential):
        layers = [m for m in model if isinstance(m, nn.Linear)]
        return [_values(m.weight) for m in layers], [_values(m.bias) for m in layers]
    assert isinstance(model, nn.Linear)
    weights: list[float] = _values(model.weight[0])
    intercept: float = _values(model.bias[0])
    if spec.family == "linear_regression" and spec.label_scaling.bounds is not None:
        low, high = spec.label_scaling.bounds
        weights = [w * (high - low) for w in weights]
        intercept = low + intercept * (high - low)
        if not all(math.isfinite(v) for v in [*weights, intercept]):
            raise NotFinite()
    return weights, intercept


@torch.no_grad()
def outputs(model: nn.Module, x: Tensor) -> Tensor:
    """Raw outputs (logits, or scaled predictions for regression) as a 1-D CPU tensor."""
    model.eval()
    result: Tensor = model(x)
    return result.reshape(-1).double().cpu()

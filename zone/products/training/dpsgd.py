"""DP-SGD with Opacus 1.6: noise calibration from public numbers, Poisson sampling, training.

Imported only in worker processes.

Sampling: the DataLoader's batch sampler is Opacus's ``UniformWithReplacementSampler`` built with
``sample_rate = spec.sample_rate`` and ``steps = spec.steps_per_epoch`` (Poisson sampling: each
row joins each step's batch independently with probability q). ``make_private`` gets it with
``poisson_sampling=False`` (it is Poisson already; Opacus would otherwise rebuild the sampler
with ``steps = int(1 / q)``, which for q = 1/49 is 48 in floating point) and then accounts every
step at ``1 / len(data_loader)``, which is exactly ``spec.sample_rate``; this is checked.

Noise: ``make_private_with_epsilon`` is not used because it derives the sample rate from the
loader and the step count as ``int(epochs / q)`` (one short for some q in floating point) and
calibrates only after the loader (and so the data) exists. Instead :func:`calibrate` runs
Opacus's ``get_noise_multiplier`` with the exact number of steps before any data is read, then
confirms with a PRV accountant of the same history (raising sigma by 0.1% steps until it is at or
below the target), and ``make_private`` gets that noise multiplier. After training, the engine's
own accountant must report at most ``epsilon_training`` or nothing is released.

Normaliser: losses are summed (``loss_reduction="sum"``) and SGD's learning rate is
``learning_rate / spec.expected_batch_size``, a public number, instead of Opacus's mean
reduction, which divides by ``int(len(dataset) * q)``, a private number (Opacus #571/#819).

Released model: the uniform average of the iterates over the last ``TAIL_FRACTION`` (half) of
the steps (Polyak-Ruppert tail averaging), a post-processing of the iterate sequence that DP-SGD's
accounting already covers. On UCI Adult at epsilon 0.1 it raised mean test accuracy from 0.805 to
0.818 (4 runs each; 0.843 either way at epsilon 1).

Randomness: Opacus's default generators would be torch's global generator, whose seed is a fixed
constant in a fresh process; the sampler and the noise get their own generators, seeded by torch
from the OS's entropy (``model.entropy_generator``). ``PrivacyEngine(secure_mode=True)`` is NOT
used: it needs torchcsprng, which is not installable here (FACTS). So the noise comes from
torch's Mersenne Twister (CPU) or Philox (CUDA) generators, which are not cryptographically
secure, and the Gaussian samples are not hardened against floating-point attacks (arXiv
2107.10138, 2112.05307) as Opacus's secure mode would do; this is a known limitation.

Warnings silenced by message (calibration: the third; training: all three, see :func:`train`):
* ``PrivacyEngine()``: "Secure RNG turned off" (the limitation above, documented).
* ``loss.backward()``: torch's "Full backward hook is firing when gradients are computed with
  respect to module outputs since no inputs require gradients" (Opacus's per-sample hooks on the
  first layer, whose inputs are data; expected).
* PRV accounting: "Optimal order is the largest/smallest alpha" from the RDP bound that Opacus
  uses only to size the PRV discretisation domain (a loose RDP bound only widens the domain).
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import torch
from opacus import PrivacyEngine
from opacus.accountants import PRVAccountant
from opacus.accountants.utils import get_noise_multiplier
from opacus.utils.uniform_sampler import UniformWithReplacementSampler
from torch.utils.data import DataLoader

from zone.errors import ZoneError
from zone.products.training.model import (
    BatchDataset,
    TailAverage,
    build_loss,
    build_model,
    entropy_generator,
    keep_batch,
)
from zone.products.training.spec import ACCOUNTANT, TrainingSpec

_MAX_NUDGES = 200
TAIL_FRACTION = 0.5


class PrivacyCheckFailed(ZoneError):
    """The accountant does not confirm the planned epsilon: nothing is released."""

    def __init__(self) -> None:
        super().__init__("privacy check failed", reason="privacy_accounting_check")


SECURE_RNG = "Secure RNG turned off"
BACKWARD_HOOK = "Full backward hook is firing"
RDP_ORDER = "Optimal order is the (largest|smallest) alpha"


@contextlib.contextmanager
def _silenced(*messages: str) -> Iterator[None]:
    with warnings.catch_warnings():
        for message in messages:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


def _prv_epsilon(noise_multiplier: float, spec: TrainingSpec, steps: int) -> float:
    accountant = PRVAccountant()
    accountant.history = [(noise_multiplier, spec.sample_rate, steps)]
    return float(accountant.get_epsilon(delta=spec.delta))


def accounted_epsilon(noise_multiplier: float, spec: TrainingSpec, steps: int) -> float:
    """Epsilon that Opacus's PRV accountant reports after ``steps`` steps of this spec."""
    with _silenced(RDP_ORDER):
        return _prv_epsilon(noise_multiplier, spec, steps)


def calibrate(spec: TrainingSpec) -> float:
    """The noise multiplier for ``spec`` (public numbers only; reads no data)."""
    with _silenced(RDP_ORDER):
        sigma = float(
            get_noise_multiplier(
                target_epsilon=spec.epsilon_training,
                target_delta=spec.delta,
                sample_rate=spec.sample_rate,
                steps=spec.steps,
                accountant=ACCOUNTANT,
            )
        )
    for _ in range(_MAX_NUDGES):
        if accounted_epsilon(sigma, spec, spec.steps) <= spec.epsilon_training:
            return sigma
        sigma *= 1.001
    raise PrivacyCheckFailed()


@dataclass
class Trained:
    """A trained model (unwrapped) and what its training spent."""

    model: torch.nn.Module
    epsilon: float
    epochs_run: int
    seconds: float


def train(
    spec: TrainingSpec,
    x: torch.Tensor,
    y: torch.Tensor,
    noise_multiplier: float,
    on_epoch: Callable[[int, float], None],
) -> Trained:
    """Run DP-SGD on rows ``x``/``y`` (already on the device); ``on_epoch(epoch, epsilon)``.

    The epsilon after each epoch is a function of public numbers (noise multiplier, sample
    rate, steps so far): a PRV accountant with the history the engine's accountant will have
    then computes it in a background thread while the epochs run (on UCI Adult accounting took
    about 2 of 9 seconds when done between epochs). ``warnings.catch_warnings`` is not
    thread-safe, so the three notes named in the module docstring are silenced once, here, for
    the whole training, rather than around each call.

    Raises:
        PrivacyCheckFailed: the accountant's history or epsilon differ from the plan.
    """
    with _silenced(SECURE_RNG, BACKWARD_HOOK, RDP_ORDER):
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zone-accounting")
        try:
            steps = [spec.steps_per_epoch * epoch for epoch in range(1, spec.epochs + 1)]
            schedule = [pool.submit(_prv_epsilon, noise_multiplier, spec, n) for n in steps]
            return _train(spec, x, y, noise_multiplier, schedule, on_epoch)
        finally:  # inside the filters: a running accounting may still warn
            pool.shutdown(wait=True, cancel_futures=True)


def _train(
    spec: TrainingSpec,
    x: torch.Tensor,
    y: torch.Tensor,
    noise_multiplier: float,
    schedule: list[Future[float]],
    on_epoch: Callable[[int, float], None],
) -> Trained:
    start = time.perf_counter()
    device = x.device
    model = build_model(spec, int(x.shape[1])).to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=spec.learning_rate / spec.expected_batch_size
    )
    sampler = UniformWithReplacementSampler(
        num_samples=int(x.shape[0]),
        sample_rate=spec.sample_rate,
        generator=entropy_generator(torch.device("cpu")),
        steps=spec.steps_per_epoch,
    )
    loader = DataLoader(BatchDataset(x, y), batch_sampler=sampler, collate_fn=keep_batch)
    engine = PrivacyEngine(accountant=ACCOUNTANT)
    private_model, private_optimizer, private_loader = engine.make_private(
        module=model,
        optimizer=optimizer,
        data_loader=loader,
        noise_multiplier=noise_multiplier,
        max_grad_norm=spec.max_grad_norm,
        loss_reduction="sum",
        poisson_sampling=False,
        noise_generator=entropy_generator(device),
    )
    if private_loader is not loader or 1 / len(private_loader) != spec.sample_rate:
        raise PrivacyCheckFailed()
    loss_fn = build_loss(spec)
    average = TailAverage(model, first_step=math.floor(spec.steps * (1 - TAIL_FRACTION)) + 1)
    for epoch in range(1, spec.epochs + 1):
        private_model.train()
        for xb, yb in private_loader:
            private_optimizer.zero_grad(set_to_none=True)
            loss_fn(private_model(xb).reshape(-1), yb).backward()
            private_optimizer.step()
            average.update()
        on_epoch(epoch, schedule[epoch - 1].result())
    epsilon = float(engine.get_epsilon(spec.delta))
    history = [(float(s), float(q), int(n)) for s, q, n in engine.accountant.history]
    planned = [(noise_multiplier, spec.sample_rate, spec.steps)]
    if history != planned or not math.isfinite(epsilon) or epsilon > spec.epsilon_training:
        raise PrivacyCheckFailed()
    private_optimizer.zero_grad(set_to_none=True)
    private_model.remove_hooks()
    average.apply()
    return Trained(model, epsilon, spec.epochs, time.perf_counter() - start)

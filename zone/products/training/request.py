"""What a caller asks a training product for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingRequest:
    """What a caller asks for; None means "use the default"."""

    product: str
    epsilon: float
    delta: float
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    max_grad_norm: float | None = None
    hidden_width: int | None = None
    features: tuple[str, ...] = ()  # empty: all the product's features
    keep_in_zone: bool = False
    seed: int | None = None

"""A synthetic training run with a learning curve, for adaptive sweeps.

``train(lr, width, epochs, step_s)`` "trains" for ``epochs`` epochs and reports
``val_loss`` after each with ``zenspec.report``; the curve and the time an epoch
takes depend on the configuration, as in real training:

- the loss decays from 1.0 toward a floor set by ``lr`` (best near 0.1, on a log
  scale) and ``width`` (wider is better), at a rate ``rate0 + rate_per_lr * lr``:
  by default a high ``lr`` learns much faster early, so curves cross (the best
  configuration trails at first: hard for a pruner); with ``rate0 = 0.3,
  rate_per_lr = 0.5`` they cross within the first few epochs only (curves ranked
  early, the case pruners are made for);
- an epoch takes ``step_s * width / 64`` seconds (wider models are slower);
- the noise is seeded by the configuration, so a trial's curve is reproducible.

It returns ``{"val_loss": <last>, "best_val_loss": <lowest>, "epochs": <run>}``.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any, Dict

import zenspec


def floor_of(lr: float, width: int) -> float:
    """The loss a configuration converges to: lowest at lr = 0.1 and a wide model."""
    return 0.05 + 0.4 * math.log10(lr / 0.1) ** 2 + 0.6 / math.sqrt(width)


def train(
    lr: float = 0.1,
    width: int = 64,
    epochs: int = 30,
    step_s: float = 0.0,
    rate0: float = 0.05,
    rate_per_lr: float = 2.0,
) -> Dict[str, Any]:
    """Train for *epochs*, reporting ``val_loss`` each epoch; may be pruned by the sweep."""
    rng = random.Random(f"{lr:.6g}/{width}")
    floor = floor_of(lr, width)
    rate = rate0 + rate_per_lr * min(lr, 1.0)
    best = math.inf
    loss = 1.0
    for epoch in range(epochs):
        if step_s:
            time.sleep(step_s * width / 64)
        loss = floor + (1.0 - floor) * math.exp(-rate * (epoch + 1)) + rng.gauss(0, 0.005)
        best = min(best, loss)
        zenspec.report(epoch, val_loss=loss)
    return {"val_loss": loss, "best_val_loss": best, "epochs": epochs}

"""Latency measurements of the live pipeline: the most recent values with percentiles."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

LATENCY_SAMPLES = 20_000  # latency measurements kept per figure (the most recent)


class LatencyStats:
    """The most recent latency measurements (seconds) with percentiles."""

    def __init__(self, maxlen: int = LATENCY_SAMPLES) -> None:
        self.values: deque[float] = deque(maxlen=maxlen)
        self.count = 0

    def add(self, seconds: float) -> None:
        self.values.append(max(0.0, float(seconds)))
        self.count += 1

    def percentile(self, q: float) -> float | None:
        return float(np.percentile(np.fromiter(self.values, float), q)) if self.values else None

    def p90_max(self) -> tuple[float | None, float | None]:
        return self.percentile(90), (max(self.values) if self.values else None)

    def summary(self) -> dict[str, Any]:
        r = lambda x: None if x is None else round(x, 4)  # noqa: E731
        return {"n": self.count, "p50": r(self.percentile(50)), "p90": r(self.percentile(90)),
                "max": r(max(self.values) if self.values else None)}

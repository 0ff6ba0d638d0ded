"""Total latency L (the seed's PluginLatencyManager).

L = lookahead (ML_LOOKAHEAD_MS, default 20 ms) + inference budget (default
1024 samples, or a duration in ms), in frames at the current sample rate. A
result for the window ending at input frame t is applied at output frame
t + L, so the inference thread has the budget (plus the lookahead) to deliver.
"""

from __future__ import annotations

from dataclasses import dataclass

ML_LOOKAHEAD_MS = 20.0
DEFAULT_INFERENCE_BUDGET_SAMPLES = 1024


@dataclass(frozen=True)
class LatencyManager:
    """Latency settings; ``frames(rate)`` gives L at a sample rate."""

    lookahead_ms: float = ML_LOOKAHEAD_MS
    budget_samples: int | None = DEFAULT_INFERENCE_BUDGET_SAMPLES
    budget_ms: float | None = None

    @classmethod
    def from_config(cls, latency: dict) -> LatencyManager:
        budget = latency["inference_budget"]
        return cls(latency["lookahead_ms"], budget.get("samples"), budget.get("ms"))

    def lookahead_frames(self, rate: int) -> int:
        """The lookahead in frames at ``rate`` Hz (rounded to the nearest frame)."""
        return round(self.lookahead_ms * rate / 1000.0)

    def budget_frames(self, rate: int) -> int:
        """The inference budget in frames at ``rate`` Hz."""
        if self.budget_ms is not None:
            return round(self.budget_ms * rate / 1000.0)
        return int(self.budget_samples or 0)

    def frames(self, rate: int) -> int:
        """Total latency L in frames at ``rate`` Hz."""
        return self.lookahead_frames(rate) + self.budget_frames(rate)

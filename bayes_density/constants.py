"""Shared constants: units, defaults, and the paper's published values (with sources)."""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["CHATGPT_RELEASE", "DAYS_PER_YEAR", "DEFAULT_PROB", "MONTHS_PER_YEAR", "PAPER", "PAPER_A_PER_DAY",
           "PAPER_BENCHMARKS", "VERSION"]

VERSION = "0.1.0"

DAYS_PER_YEAR = 365.25  # model time t is in years since the run's t0 (Julian years)
MONTHS_PER_YEAR = 12.0

DEFAULT_PROB = 0.9  # central posterior intervals: 90%

CHATGPT_RELEASE = "2022-11-30"  # the default break date of the trend
PAPER_BENCHMARKS = ("MMLU", "BBH", "MATH", "HumanEval", "MBPP")  # the Densing Law paper's five

# The Densing Law's published numbers (point estimates; no intervals were published).
PAPER = MappingProxyType({
    "arxiv_v2": MappingProxyType({
        "source": "Xiao et al., Densing Law of LLMs, arXiv 2412.04315 v2 (2024)",
        "A_per_day": 0.0073,
        "doubling_months": 3.3,
        "doubling_days": 95,
        "R2": 0.912,
        "n_models": 29,
        "mmlu_A_per_day_before_chatgpt": 0.0048,
        "mmlu_A_per_day_after_chatgpt": 0.0073,
    }),
    "nature_mi_2025": MappingProxyType({
        "source": "Xiao et al., Densing Law of LLMs, Nature Machine Intelligence 7, 1823-1833 (2025), "
                  "doi 10.1038/s42256-025-01137-0",
        "n_models": 51,
        "dates": ("2023-02", "2025-04"),
        "doubling_months": 3.5,
        "doubling_months_before_chatgpt": 4.8,
        "doubling_months_after_chatgpt": 3.2,
    }),
})
PAPER_A_PER_DAY = PAPER["arxiv_v2"]["A_per_day"]  # the slope quoted on plots: 0.0073 per day

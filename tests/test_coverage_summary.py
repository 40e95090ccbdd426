"""coverage_summary on the hand-made fixture (numbers counted by hand)."""

from __future__ import annotations

import json
from pathlib import Path

from bayes_density.data.coverage import PAPER5, coverage_summary
from bayes_density.present.text import format_coverage
from bayes_density.data.io import load_data

FIXTURE = Path(__file__).parent / "fixtures" / "data"

# Counted from tests/fixtures/data by hand:
#   7 models; Toy-Unscored has no scores; Toy-7B-Chat is instruct; Closed-Toy is closed
#   -> open base scored: Toy-1B, Toy-3B, Toy-7B, Toy-MoE-8x1B = 4
#   >= 3 of the paper's 5 (MMLU, BBH, HumanEval here): Toy-1B, Toy-3B, Toy-7B,
#      Toy-MoE-8x1B, Closed-Toy = 5 (Toy-7B-Chat has 2; Toy-7B's two MMLU rows count once)
#   18 score rows: MMLU 7 (Toy-7B twice), HumanEval 6, BBH 5
#   sources: toy eval run, toy paper table 2, closed report = 3; harnesses: toy-harness, closed-report = 2
#   scored models' release dates: Toy-1B 2023-01-15 .. Closed-Toy 2024-05-20 (Toy-Unscored is later)
EXPECTED = {
    "n_models": 7,
    "n_open_base_models_scored": 4,
    "n_with_3_of_paper5": 5,
    "n_scores": 18,
    "n_benchmarks": 3,
    "scores_per_benchmark": {"MMLU": 7, "HumanEval": 6, "BBH": 5},
    "n_sources": 3,
    "n_harnesses": 2,
    "date_range": ["2023-01-15", "2024-05-20"],
    "targets": ["Toy-Claude", "Toy-GPT"],
    "reference_sets": {"toy": ["Toy-1B", "Toy-3B"], "toy-small": ["Toy-1B"]},
    # no family/domain/source_kind columns in the fixture: each benchmark its own family, every
    # score from the reference kind 'harness'; Toy-7B's two MMLU rows are its 2 sources
    "variants": {
        "MMLU": {"family": "MMLU", "domain": "", "n_scores": 7, "n_models": 6, "n_models_2plus_sources": 1,
                 "n_models_2plus_kinds": 0, "by_kind": {"harness": 7}},
        "HumanEval": {"family": "HumanEval", "domain": "", "n_scores": 6, "n_models": 6,
                      "n_models_2plus_sources": 0, "n_models_2plus_kinds": 0, "by_kind": {"harness": 6}},
        "BBH": {"family": "BBH", "domain": "", "n_scores": 5, "n_models": 5, "n_models_2plus_sources": 0,
                "n_models_2plus_kinds": 0, "by_kind": {"harness": 5}},
    },
}


def test_coverage_summary_on_fixture():
    summary = coverage_summary(load_data(FIXTURE))
    assert summary == EXPECTED
    assert list(summary["scores_per_benchmark"]) == ["MMLU", "HumanEval", "BBH"]  # most scored first
    json.dumps(summary)  # plain Python values


def test_format_coverage():
    text = format_coverage(coverage_summary(load_data(FIXTURE)))
    for fragment in ("7", "2023-01-15 to 2024-05-20", "Toy-Claude, Toy-GPT",
                     "toy: Toy-1B, Toy-3B", "toy-small: Toy-1B", ", ".join(PAPER5)):
        assert fragment in text
    assert any(line.split()[:4] == ["MMLU", "MMLU", "-", "7"] for line in text.splitlines())

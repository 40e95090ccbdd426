"""What the loaded data covers: counts of models, scores, benchmarks, sources."""

from __future__ import annotations

import pandas as pd

from ..constants import PAPER_BENCHMARKS
from .io import DensityData

#: the five benchmarks of the densing-law paper
PAPER5 = PAPER_BENCHMARKS  # old name


def coverage_summary(data: DensityData) -> dict:
    """Counts describing ``data`` (plain Python values, JSON-ready).

    Keys: n_models; n_open_base_models_scored (open base models with a release
    date, params and at least one score); n_with_3_of_paper5 (models, of any
    kind, scored on at least 3 of :data:`PAPER5`); n_scores; n_benchmarks (rows
    of benchmarks.csv); scores_per_benchmark (benchmark -> number of score
    rows, every benchmark listed, most scored first); n_sources and n_harnesses
    (distinct ``source`` / ``harness`` values in scores.csv); date_range
    ([first, last] ISO release date of the models with scores, or None);
    targets (sorted target names); reference_sets (set -> its models); variants
    (benchmark -> family, domain, n_scores, n_models, models scored by 2+ sources and
    by 2+ source kinds, scores per source kind).
    """
    m, s = data.models, data.scores
    scored = m[m["name"].isin(set(s["model"]))]
    open_base = scored[
        (scored["open_or_closed"] == "open") & (scored["base_or_instruct"] == "base")
        & scored["release_date"].notna() & scored["params"].notna()
    ]
    paper = s[s["benchmark"].isin(PAPER5)].groupby("model")["benchmark"].nunique()
    counts = s["benchmark"].value_counts()
    names = dict.fromkeys([*data.benchmarks["name"], *counts.index])  # listed ones, then any others
    per_bench = sorted(((str(b), int(counts.get(b, 0))) for b in names), key=lambda kv: (-kv[1], kv[0]))
    dates = scored["release_date"].dropna()
    refs = data.references
    bench = data.benchmarks.set_index("name")
    kind = (s["source_kind"] if "source_kind" in s else pd.Series("harness", index=s.index)).fillna("harness")
    variants = {}
    for b, _ in per_bench:
        sel = s[s["benchmark"] == b]
        srcs = sel.groupby("model")["source"].nunique()
        kinds = kind[sel.index].groupby(sel["model"]).nunique()
        fam = bench["family"].get(b) if "family" in bench else None
        dom = bench["domain"].get(b) if "domain" in bench else None
        variants[b] = {
            "family": str(fam) if isinstance(fam, str) and fam else b,
            "domain": str(dom) if isinstance(dom, str) and dom else "",
            "n_scores": int(len(sel)), "n_models": int(sel["model"].nunique()),
            "n_models_2plus_sources": int((srcs >= 2).sum()),
            "n_models_2plus_kinds": int((kinds >= 2).sum()),
            "by_kind": {str(k): int(v) for k, v in kind[sel.index].value_counts().sort_index().items()},
        }
    return {
        "n_models": len(m),
        "n_open_base_models_scored": len(open_base),
        "n_with_3_of_paper5": int((paper >= 3).sum()),
        "n_scores": len(s),
        "n_benchmarks": len(data.benchmarks),
        "scores_per_benchmark": dict(per_bench),
        "variants": variants,
        "n_sources": int(s["source"].nunique()),
        "n_harnesses": int(s["harness"].nunique()),
        "date_range": None if dates.empty else [_iso(dates.min()), _iso(dates.max())],
        "targets": sorted(str(t) for t in data.targets["target"].unique()),
        "reference_sets": {str(k): [str(x) for x in refs.loc[refs["set"] == k, "model"]]
                           for k in dict.fromkeys(refs["set"])},
    }


def _iso(t) -> str:
    return pd.Timestamp(t).date().isoformat()

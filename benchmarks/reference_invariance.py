"""Reference invariance and the mean form on the shipped data, in one run.

    python benchmarks/reference_invariance.py [--seed 1] [--draws 1000] [--chains 4]

Fits the default spec (frontier, Llama-1/2 reference), the same spec with every
other shipped reference set, and the ``mean`` spec; prints one table: doubling
time (months, median and 90% interval), A per day, the level of the trend at t0
(log density; it depends on the reference), and diagnostics. The doubling time
should barely move with the reference; the level should move.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    import numpy as np

    from bayes_density.analysis import DensityAnalysis
    from bayes_density.data.io import load_data
    from bayes_density.model.spec import load_spec
    from bayes_density.posterior.summaries import diagnostics, doubling_from_slope, draws

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    a = ap.parse_args(argv)
    data = load_data()
    base = load_spec("default")
    runs = [("default (frontier)", base)]
    runs += [(f"frontier, reference {s}", base.replace(reference=s))
             for s in sorted(set(data.references["set"]) - {base.reference})]
    runs.append(("mean", load_spec("mean")))
    rows = []
    for label, spec in runs:
        an = DensityAnalysis(data, spec)
        tree = an.fit(seed=a.seed, draws=a.draws, tune=a.tune, chains=a.chains, progress=False)
        d = diagnostics(tree)
        months = doubling_from_slope(draws(tree, "slope")) * 12
        slope_day = draws(tree, "slope") / 365.25
        lvl = draws(tree, "intercept")
        q = lambda x: np.quantile(x, [0.5, 0.05, 0.95])  # noqa: E731
        rows.append((label, spec.reference, an.inputs.n_models, *q(months), *q(slope_day), *q(lvl),
                     d["rhat_max"], d["ess_bulk_min"], d["divergences"], tree.attrs["time_total_s"]))
        print(f"done: {label}", file=sys.stderr, flush=True)
    head = ("run", "reference", "models", "doubling mo", "lo", "hi", "A/day", "lo", "hi",
            "level t0", "lo", "hi", "max R-hat", "min ESS", "div", "fit s")
    print(" | ".join(head))
    for r in rows:
        print(" | ".join([r[0], r[1], str(r[2])] + [f"{v:.2f}" for v in r[3:6]] + [f"{v:.5f}" for v in r[6:9]]
                         + [f"{v:.2f}" for v in r[9:12]] + [f"{r[12]:.3f}", f"{r[13]:.0f}", str(r[14]), f"{r[15]:.0f}"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

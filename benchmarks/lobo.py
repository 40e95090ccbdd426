"""Leave-one-benchmark-out on the shipped data: the default spec, then without each benchmark family.

Run: ``.venv/bin/python benchmarks/lobo.py [OUT.jsonl]`` (six fits, 4 chains x 500 draws after 1000
tuning, seed 1; about 5 minutes each on 2 cores). One JSON line per fit: the median doubling time
(months) with its 90% interval, the numbers of models and scores, and the fit's diagnostics. The
README's "What the shipped data say" table came from it (2026-12-02).
"""

from __future__ import annotations

import json
import sys
import time

from bayes_density.data.io import load_data
from bayes_density.inference.fit import sample
from bayes_density.model.design import prepare
from bayes_density.model.spec import load_spec
from bayes_density.posterior.summaries import diagnostics, trend_table


def main(out: str | None = None) -> None:
    data = load_data()
    base = load_spec("default").replace(draws=500, tune=1000, chains=4, seed=1)
    configs = [("default", base)] + [
        (f"without {f}", base.replace(benchmarks=tuple(b for b in base.benchmarks if b != f))) for f in base.benchmarks]
    sink = open(out, "a") if out else None
    for name, spec in configs:
        start = time.time()
        inputs = prepare(data, spec)
        tree = sample(inputs, spec, progress=False, log_likelihood=False)
        row = trend_table(tree).query("quantity == 'doubling_time_months'").iloc[0]
        diag = diagnostics(tree)
        rec = {"config": name, "median": float(row["median"]), "lo": float(row["lo"]), "hi": float(row["hi"]),
               "n_models": inputs.n_models, "n_scores": inputs.n_obs, "rhat_max": float(diag["rhat_max"]),
               "ess_bulk_min": float(diag["ess_bulk_min"]), "divergences": int(diag["divergences"]),
               "seconds": round(time.time() - start, 1)}
        print(json.dumps(rec), flush=True)
        if sink:
            sink.write(json.dumps(rec) + "\n")
            sink.flush()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)

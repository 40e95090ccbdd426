"""The SBC sweep (bayes_density.sweeps.sbc): rank tables, the spec it fits, the CLI, a tiny resumable run.

The calibration itself is checked by the slow SBC tests (test_recovery.py, test_quantile_frontier.py),
which run through this sweep.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_density.cli import main
from bayes_density.errors import InputError
from bayes_density.model.simulate import SIM_BENCHMARKS
from bayes_density.model.spec import load_spec
from bayes_density.sweeps.sbc import parse_param, rank_table, run_sbc, sbc_spec


def _per_sim(ranks):
    return pd.DataFrame({"sim": range(len(ranks)), "parameter": "slope", "rank": ranks})


def test_rank_table_tells_uniform_from_biased_ranks():
    rng = np.random.default_rng(0)
    uniform = rank_table(_per_sim(rng.integers(0, 201, 200)), n_ranks=200)
    low = rank_table(_per_sim(rng.integers(0, 60, 200)), n_ranks=200)  # truths too low: posterior too high
    assert uniform.loc[0, "chi2_p"] > 0.01 and low.loc[0, "chi2_p"] < 1e-6
    assert sum(int(c) for c in uniform.loc[0, "counts"].split()) == 200
    assert 0.4 < uniform.loc[0, "mean_rank"] < 0.6 and low.loc[0, "mean_rank"] < 0.2
    # the top rank (truth above every draw) falls in the last bin, not outside
    edge = rank_table(_per_sim([200] * 5 + [0] * 5), n_ranks=200)
    assert edge.loc[0, "counts"] == "5 0 0 0 5"


def test_parse_param():
    assert parse_param("slope") == ("slope", None)
    assert parse_param(" link_loc[2] ") == ("link_loc", 2)
    with pytest.raises(InputError, match="index"):
        parse_param("link_loc[x]")


def test_sbc_spec_keeps_the_model_and_swaps_the_data():
    spec = load_spec("default")
    s = sbc_spec(spec, draws=50, tune=60, chains=1)
    assert s.priors == spec.priors == {"frontier_share": [12.0, 3.0]} and s.frontier and s.trend == spec.trend
    assert list(s.benchmarks) == list(SIM_BENCHMARKS["name"]) and s.reference == "sim" and not s.targets
    assert (s.draws, s.tune, s.chains) == (50, 60, 1) and not s.learn_floors
    assert sbc_spec(spec, measurement=True).learn_floors


def test_cli_rejects_bad_settings(capsys):
    assert main(["sbc", "--sims", "0"]) == 2
    assert "--sims must be >= 1" in capsys.readouterr().err
    assert main(["sbc", "--spec", "quantile", "--params", "slope,frontier_share", "--models", "12",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "frontier_share" in err and "quantile_sd" in err  # names what the model has


def test_tiny_sweep_resumes(tmp_path):
    kw = dict(params=["slope", "log_alpha"], n_sims=2, n_models=12, draws=20, tune=20, chains=1, seed=3,
              workers=1, out_dir=tmp_path / "parts", progress=False)
    table, per_sim = run_sbc(load_spec("default"), **kw)
    assert list(table["parameter"]) == ["slope", "log_alpha"] and (table["n_sims"] == 2).all()
    assert per_sim["rank"].between(0, table["n_ranks"].iloc[0]).all() and table.attrs["computed"] == 2
    # each fit names its least-sampled parameter (where stuck chains live)
    assert per_sim["ess_bulk_min_var"].map(lambda v: isinstance(v, str) and v != "").all()
    again, per_sim2 = run_sbc(load_spec("default"), **kw)
    assert again.attrs["computed"] == 0 and again.attrs["skipped"] == 2
    pd.testing.assert_frame_equal(per_sim, per_sim2)


def test_text_output_names_counts_and_fits():
    from bayes_density.present.text import format_sbc

    per_sim = pd.DataFrame({"sim": [0, 0, 1, 1], "parameter": ["slope", "log_alpha"] * 2, "rank": [3, 150, 199, 40],
                            "rhat_max": [1.003, 1.003, 1.02, 1.02], "ess_bulk_min": [410.0] * 2 + [90.0] * 2,
                            "divergences": [0, 0, 2, 2]})
    table = rank_table(per_sim, n_ranks=200)
    table.attrs.update(spec="default", n_models=40, chains=2, draws=400, tune=400, thin=4, computed=2, skipped=0,
                       workers=2, wall_s=12.0, failed=1)
    text = format_sbc(table, per_sim)
    assert "slope" in text and "1 0 0 0 1" in text and "max R-hat 1.020" in text and "min bulk ESS 90" in text
    assert "1 with divergences" in text and "1 simulation(s) failed" in text and "every 4th" in text

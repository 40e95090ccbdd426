"""The Densing Law's other claims: compression vs parent (posterior/compression.py) and the best-value
window (posterior/value_window.py), on hand-made posteriors, a simulated fit, the CLI and the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayes_density.posterior.compression import compression_effect, derivation_pairs
from bayes_density.posterior.value_window import (_half_time, supersession_times, value_window,
                                                  value_window_by_year)


def fake_run(log_density: np.ndarray, names, dates=None, params=None) -> xr.DataTree:
    """A tree with posterior ``log_density`` (chain, draw, model) and, if given, release dates and sizes."""
    ld = np.asarray(log_density, float)
    post = xr.Dataset({"log_density": (("chain", "draw", "model"), ld)}, coords={"model": list(names)})
    tree = xr.DataTree.from_dict({"posterior": post})
    if dates is not None:
        cd = xr.Dataset({"release_date": ("model", pd.to_datetime(dates).values),
                         "log_params": ("model", np.log(np.asarray(params, float)))}, coords={"model": list(names)})
        tree = xr.DataTree.from_dict({"posterior": post, "constant_data": cd})
    tree.attrs.update({"spec": "{}", "t0": "2023-01-01"})
    return tree


# ------------------------------------------------------------------ compression

def test_compression_recovers_a_known_gap():
    """Children simulated 0.5 nats below their parents (posterior sd 0.3 per model): the pooled 90% interval
    covers -0.5, excludes 0, and P(child < parent) is high; a pair with no gap is not called lower."""
    rng = np.random.default_rng(0)
    n_pairs, n_draws, gap = 8, 2000, -0.5
    parent_true = rng.normal(0, 1, n_pairs)
    child_true = parent_true + gap
    true = np.concatenate([parent_true, child_true, [0.0, 0.0]])
    ld = true[None, None, :] + rng.normal(0, 0.3, (2, n_draws, true.size))
    names = [f"P{i}" for i in range(n_pairs)] + [f"C{i}" for i in range(n_pairs)] + ["Same", "SameParent"]
    tree = fake_run(ld, names)
    pairs = [(f"C{i}", f"P{i}") for i in range(n_pairs)]
    d = compression_effect(tree, pairs=pairs)
    p = d["pooled"]
    assert p["n_pairs"] == n_pairs
    assert p["diff_lo"] < gap < p["diff_hi"] and p["diff_hi"] < 0
    assert p["p_lower"] > 0.99
    assert p["ratio_median"] == pytest.approx(np.exp(p["diff_median"]))
    # every pair's interval is wider than the pooled one
    assert all(r["diff_hi"] - r["diff_lo"] > p["diff_hi"] - p["diff_lo"] for r in d["pairs"])
    d0 = compression_effect(tree, pairs=[("Same", "SameParent")])
    assert 0.3 < d0["pairs"][0]["p_child_lower"] < 0.7
    assert d0["pooled"]["diff_lo"] < 0 < d0["pooled"]["diff_hi"]


def test_compression_lists_pairs_not_in_the_run():
    tree = fake_run(np.zeros((1, 10, 2)), ["A", "B"])
    d = compression_effect(tree, pairs=[("A", "B"), ("A", "Nope")])
    assert len(d["pairs"]) == 1 and d["missing"] == [{"child": "A", "parent": "Nope", "not_in_run": ["Nope"]}]
    d = compression_effect(tree, pairs=[("X", "Y")])
    assert d["pairs"] == [] and d["pooled"] is None


def test_shipped_pairs_are_sourced_and_name_models_in_the_data():
    from bayes_density.data.io import load_data

    pairs = derivation_pairs()
    names = set(load_data().models["name"])
    assert len(pairs) >= 3
    assert set(pairs.child) <= names and set(pairs.parent) <= names
    assert set(pairs.derivation) <= {"pruned", "distilled", "both"}
    assert (pairs.source.str.len() > 20).all()


def test_compression_on_a_simulated_fit_covers_the_true_pooled_gap(simulated_fit, simulated):
    """20 pairs of simulated models (each the 'child' of the next one): most per-pair 90% intervals cover the
    true difference of log densities, and the pooled 99% interval covers the true mean difference (the pooled
    90% interval of this seed misses it by 0.03 nats: the models' densities share link and loss-law
    uncertainty, so pooled errors do not average away)."""
    inputs, truth, _ = simulated
    true = dict(zip(inputs.models, np.asarray(truth["log_density"], float)))
    names = [str(m) for m in simulated_fit.posterior["model"].values]
    pairs = [(names[i], names[i + 1]) for i in range(0, 40, 2)]
    d = compression_effect(simulated_fit, pairs=pairs)
    cover = np.mean([r["diff_lo"] < true[r["child"]] - true[r["parent"]] < r["diff_hi"] for r in d["pairs"]])
    assert cover >= 0.7
    d = compression_effect(simulated_fit, pairs=pairs, prob=0.99)
    want = np.mean([true[c] - true[p] for c, p in pairs])
    assert d["pooled"]["diff_lo"] < want < d["pooled"]["diff_hi"]


# ------------------------------------------------------------------ value window

def test_supersession_times_by_hand():
    """Four models; two draws. Model 0 (t=0, size 10) is superseded by model 2 (t=2, size 5) in draw 0 and
    by no one in draw 1; model 1 (t=1, size 1) can only be superseded by smaller later models (none:
    censored at 3 - 1 = 2); model 3 is the last (censored at 0). Model 2 shares no day with a denser one."""
    t = np.array([0.0, 1.0, 2.0, 3.0])
    lp = np.log([10.0, 1.0, 5.0, 20.0])  # model 3 is larger than everyone: supersedes no one
    ld = np.array([[0.0, 0.0, 1.0, 9.0],
                   [2.0, 0.0, 1.0, 9.0]])
    time, event = supersession_times(ld, t, lp)
    np.testing.assert_array_equal(event, [[True, False, False, False], [False, False, False, False]])
    np.testing.assert_allclose(time, [[2.0, 2.0, 1.0, 0.0], [3.0, 2.0, 1.0, 0.0]])
    # the first denser one counts, not the densest; equal size counts as "at most its size"; same day never does
    t = np.array([0.0, 0.0, 1.0, 2.0])
    lp = np.log([4.0, 1.0, 4.0, 2.0])
    ld = np.array([[0.0, 5.0, 0.5, 3.0]])
    time, event = supersession_times(ld, t, lp, t_end=10.0)
    assert event[0, 0] and time[0, 0] == 1.0  # model 2 (same size, later, denser); model 1 same day ignored
    assert not event[0, 1] and time[0, 1] == 10.0  # censored at t_end
    ld = np.array([[0.0, 5.0, 0.0, 3.0]])  # model 2 ties (not denser): model 3 at t = 2
    time, event = supersession_times(ld, t, lp)
    assert event[0, 0] and time[0, 0] == 2.0


def test_half_time_is_known_only_before_the_earliest_censoring():
    time = np.array([[1.0, 2.0, 5.0], [1.0, 9.0, 9.0]])
    event = np.array([[True, True, False], [True, False, False]])
    censor = np.array([5.0, 9.0, 9.0])
    half, known = _half_time(time, event, censor)
    assert half[0] == 2.0 and known[0]  # two of three superseded by 2 < 5
    assert np.isinf(half[1]) and not known[1]


def test_value_window_tables_on_a_hand_made_run():
    dates = ["2023-01-01", "2023-07-01", "2024-01-01", "2024-07-01"]
    params = [8e9, 7e9, 3e9, 70e9]
    draws = np.array([[0.0, 1.0, 2.0, 5.0], [0.0, -1.0, -2.0, 5.0]])[None]  # 1 chain x 2 draws
    tree = fake_run(draws, ["A", "B", "C", "D"], dates, params)
    per = value_window(tree).set_index("model")
    assert per.loc["A", "p_superseded"] == 0.5  # by B in draw 0 (6 months), never in draw 1
    months = (pd.Timestamp("2023-07-01") - pd.Timestamp("2023-01-01")).days / 365.25 * 12
    assert per.loc["A", "window_months_median"] == pytest.approx(months)
    assert per.loc["D", "p_superseded"] == 0 and np.isnan(per.loc["D", "window_months_median"])
    assert per.loc["D", "censor_months"] == 0
    by = value_window_by_year(tree).set_index("year")
    assert list(by.n_models) == [2, 2]
    assert by.loc[2023, "p_superseded_mean"] == pytest.approx(0.5)
    assert by.loc[2024, "p_half_known"] == 0  # D is censored at 0 months


def test_value_window_on_a_simulated_fit(simulated_fit):
    per = value_window(simulated_fit)
    assert len(per) == simulated_fit.posterior.sizes["model"]
    assert per.p_superseded.between(0, 1).all()
    ok = per.window_months_median.notna()
    assert (per.window_months_median[ok] <= per.censor_months[ok] + 1e-9).all()
    by = value_window_by_year(simulated_fit)
    assert by.n_models.sum() == len(per)


# ------------------------------------------------------------------ CLI and report

def test_claims_cli_and_report(simulated_fit, tmp_path, capsys):
    from bayes_density.cli import main
    from bayes_density.inference.run import save
    from bayes_density.present.report import claims_section

    path = save(simulated_fit, tmp_path / "sim.nc")
    assert main(["claims", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) >= {"compression", "value_window_by_year", "value_window"}
    assert d["compression"]["pairs"] == []  # the shipped pairs name no simulated model
    assert main(["claims", str(path)]) == 0
    out = capsys.readouterr().out
    assert "no compressed model" in out and "Best-value window" in out
    assert main(["claims", str(path), "--prob", "1.5"]) == 2
    html = claims_section(simulated_fit, 0.9)
    assert "Best-value window" in html and "months" in html and "<img" in html

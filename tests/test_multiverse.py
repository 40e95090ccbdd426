"""The multiverse (specification curve): subsets, specs, parallel fits on simulated data, CLI, plot, report.

Kept fast: two tiny fits side by side in two worker processes (2 chains x 100
draws; their run files give the report test a run), and the command line only
on selections that fail before any sampling. The slow test refits one
specification in this process and checks it matches the worker's fit.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bayes_density.present import plots
from bayes_density.cli import main
from bayes_density.data.io import load_data
from bayes_density.sweeps.multiverse import (COLUMNS, benchmark_subsets, converged, fit_spec, multiverse_specs, read_table,
                                      run_multiverse, shared_base, sort_curve, spec_name, write_table)
from bayes_density.model.simulate import simulate, synthetic_inputs, write_tables
from bayes_density.model.spec import PAPER_BENCHMARKS, ModelSpec, load_spec

from .conftest import SIM_BENCHMARKS, sim_spec

SETTINGS = dict(draws=100, tune=100, chains=2, seed=7, reruns=0)
SPEC_TOML = f"""name = "sim"
description = "simulated data, multiverse tests"
[data]
benchmarks = {list(SIM_BENCHMARKS)!r}
reference = "sim"
{{extra}}
[target]
names = []
"""


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    """Simulated data on disk (reference set 'sim') and two spec files: usable, and selecting too few models."""
    d = tmp_path_factory.mktemp("multiverse")
    inputs, _ = simulate(synthetic_inputs(30, seed=3), sim_spec(), seed=3)
    write_tables(inputs, d / "data")
    (d / "sim.toml").write_text(SPEC_TOML.replace("{extra}", ""))
    (d / "early.toml").write_text(SPEC_TOML.replace("{extra}", 'until = "2023-01-20"'))
    return d


@pytest.fixture(scope="module")
def base():
    return sim_spec(targets=(), seed=SETTINGS["seed"])


@pytest.fixture(scope="module")
def table(sim_dir, base):
    """Two specs fitted in two worker processes (run files saved), plus one whose selection is unusable."""
    specs = multiverse_specs(base, benchmarks=("SimMC", "SimCodeSmall"), references=("sim",))[:2]
    early = base.replace(until="2023-01-20", name="too-early", benchmarks=("SimMC",))
    seen = []
    df = run_multiverse(str(sim_dir / "data"), specs + [early], workers=2, runs_dir=sim_dir / "runs",
                        progress=lambda row, done, total: seen.append((row["name"], done, total)), **SETTINGS)
    df.attrs["seen"] = seen
    return df


@pytest.fixture(scope="module")
def run_a(table):
    """The saved run of the first spec."""
    from bayes_density.inference.fit import load

    return load(table["run_file"][0])


# ---------------------------------------------------------------- specs


def test_benchmark_subsets():
    subsets = benchmark_subsets(PAPER_BENCHMARKS)
    assert len(subsets) == 31 and len(set(subsets)) == 31
    assert subsets[:5] == [(b,) for b in PAPER_BENCHMARKS]
    assert subsets[5] == ("MMLU", "BBH") and subsets[-1] == PAPER_BENCHMARKS
    sizes = [len(s) for s in subsets]
    assert sizes == sorted(sizes)
    pos = {b: i for i, b in enumerate(PAPER_BENCHMARKS)}
    for s in subsets:  # each subset keeps the given order
        assert [pos[b] for b in s] == sorted(pos[b] for b in s)
    for k in range(1, 6):  # within a size, in the order of the benchmarks
        same = [tuple(pos[b] for b in s) for s in subsets if len(s) == k]
        assert same == sorted(same) and len(same) == math.comb(5, k)
    assert benchmark_subsets(["B", "A"]) == [("B",), ("A",), ("B", "A")]
    with pytest.raises(ValueError, match="twice"):
        benchmark_subsets(["A", "A"])


def test_multiverse_specs():
    base = load_spec("default")
    specs = multiverse_specs(base)
    assert len(specs) == 62
    assert [s.name for s in specs[:3]] == ["MMLU|llama", "MMLU|qwen2", "BBH|llama"]
    assert specs[10].name == "MMLU+BBH|llama" and specs[10].benchmarks == ("MMLU", "BBH")
    assert specs[-1].name == "MMLU+BBH+MATH+HumanEval+MBPP|qwen2" and specs[-1].reference == "qwen2"
    assert len({s.name for s in specs}) == 62
    for s in specs:
        assert isinstance(s, ModelSpec)
        assert s.name == spec_name(s.benchmarks, s.reference)
        # everything but the selection is the base spec's
        assert (s.trend, s.frontier, s.seed, s.targets, s.d0, s.source) == \
            (base.trend, base.frontier, base.seed, base.targets, base.d0, base.source)
    two = multiverse_specs(base, benchmarks=("MMLU", "MATH"), references=("qwen2",))
    assert [s.name for s in two] == ["MMLU|qwen2", "MATH|qwen2", "MMLU+MATH|qwen2"]
    with pytest.raises(ValueError):
        multiverse_specs(base, references=())


# ---------------------------------------------------------------- fits


def test_run_multiverse_rows(table):
    assert list(table.columns) == list(COLUMNS)
    assert list(table["name"]) == ["SimMC|sim", "SimCodeSmall|sim", "too-early"]  # the order of the specs
    assert table.attrs["workers"] == 2 and table.attrs["wall_s"] > 0
    fitted = table.iloc[:2]
    assert (fitted["error"] == "").all(), list(fitted["error"])
    assert list(fitted["benchmarks"]) == ["SimMC", "SimCodeSmall"] and list(fitted["reference"]) == ["sim", "sim"]
    assert (fitted["n_benchmarks"] == 1).all() and (fitted["n_models"] >= 20).all()
    assert (fitted["n_scores"] > fitted["n_models"]).all()
    for _, r in fitted.iterrows():
        lo, med, hi = r["doubling_months_lo"], r["doubling_months_median"], r["doubling_months_hi"]
        assert np.isfinite([lo, med, hi]).all() and 0 < lo <= med <= hi
        # the simulated truth doubles every ln 2 / 2.6 years = 3.2 months; a tiny fit lands near it
        assert 1 < med < 12
        assert r["A_per_day_median"] > 0 and np.isfinite(r["rhat_max"]) and r["ess_bulk_min"] > 0
        assert r["divergences"] >= 0 and r["fit_s"] > 0
        assert (r["chains"], r["draws"], r["tune"], r["seed"], r["reruns"]) == (2, 100, 100, 7, 0)
    assert sorted(d for _, d, _ in table.attrs["seen"]) == [1, 2, 3]


def test_unusable_spec_gives_an_error_row(table):
    r = table.iloc[2]
    assert "need at least 3" in r["error"] and "2023-01-20" in r["error"]
    assert np.isnan(r["doubling_months_median"]) and pd.isna(r["n_models"])
    assert not converged(r)


def test_saved_runs_match_the_rows(table, run_a):
    from bayes_density.sweeps.multiverse import headline
    from bayes_density.posterior.summaries import diagnostics

    assert table["run_file"][0].endswith("SimMC__sim.nc") and table["run_file"][1].endswith("SimCodeSmall__sim.nc")
    assert table["run_file"][2] == ""
    assert run_a.posterior.sizes["chain"] == 2 and run_a.posterior.sizes["draw"] == 100
    assert run_a.attrs["model_name"] == "SimMC|sim" and "log_likelihood" in run_a.children
    row = table.iloc[0]
    for key, value in headline(run_a).items():
        assert value == pytest.approx(row[key], rel=1e-12), key
    assert diagnostics(run_a)["rhat_max"] == pytest.approx(row["rhat_max"], rel=1e-12)


@pytest.mark.slow
def test_same_fit_in_a_worker_and_in_this_process(sim_dir, base, table):
    """Deterministic for a seed: refitting the first spec here gives the worker's numbers exactly."""
    spec = multiverse_specs(base, benchmarks=("SimMC",), references=("sim",))[0]
    row, tree = fit_spec(load_data(sim_dir / "data"), spec, return_tree=True, **SETTINGS)
    pooled = table.iloc[0]
    for key in ("n_models", "n_scores", "doubling_months_median", "doubling_months_lo", "doubling_months_hi",
                "A_per_day_median", "rhat_max", "ess_bulk_min", "divergences"):
        assert row[key] == pooled[key], key


def test_run_multiverse_rejects_bad_arguments(base):
    with pytest.raises(ValueError, match="no specifications"):
        run_multiverse(None, [])
    with pytest.raises(ValueError, match="unique"):
        run_multiverse(None, [base, base])
    with pytest.raises(ValueError, match="draws"):
        run_multiverse(None, [base], draws=0)
    with pytest.raises(ValueError, match="workers"):
        run_multiverse(None, [base], workers=0)


def test_table_round_trip(table, tmp_path):
    path = write_table(table, tmp_path / "sub" / "mv.csv")
    back = read_table(path)
    assert list(back["name"]) == list(table["name"]) and list(back["error"])[:2] == ["", ""]
    np.testing.assert_allclose(back["doubling_months_median"][:2], table["doubling_months_median"][:2])
    assert [p.name for p in path.parent.iterdir()] == ["mv.csv"]
    assert list(sort_curve(back)["name"])[-1] == "too-early"
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="missing column"):
        read_table(tmp_path / "bad.csv")


# ---------------------------------------------------------------- command line


@pytest.mark.parametrize("args, words", [
    (["--references", "sim,llama3"], ["'llama3'", "available sets: sim"]),
    (["--benchmarks", "SimMC,MMLU"], ["'MMLU'", "available:", "SimMC"]),
    (["--benchmarks", "SimMC,SimMC"], ["listed twice"]),
    (["--draws", "0"], ["--draws"]),
])
def test_cli_rejects_bad_choices_before_fitting(sim_dir, tmp_path, capsys, args, words):
    out = tmp_path / "mv.csv"
    rc = main(["multiverse", "--data", str(sim_dir / "data"), "--model", str(sim_dir / "sim.toml"),
               "--references", "sim", *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_runs_and_writes_the_table(sim_dir, tmp_path, capsys):
    """End to end with a spec that selects too few models: every row is an error row, nothing is sampled."""
    out = tmp_path / "mv.csv"
    rc = main(["multiverse", "--data", str(sim_dir / "data"), "--model", str(sim_dir / "early.toml"),
               "--references", "sim", "--benchmarks", "SimMC,SimCode", "--workers", "1", "--no-progress",
               "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    df = read_table(out)
    assert list(df["name"]) == ["SimMC|sim", "SimCode|sim", "SimMC+SimCode|sim"]
    assert (df["error"].str.contains("need at least 3")).all()
    assert "not fitted" in cap.out and "wall time on 1 worker(s)" in cap.out
    assert cap.err.count("warning: ") == 3


# ---------------------------------------------------------------- plot and report


def fake_table() -> pd.DataFrame:
    """A multiverse table as the plot and report see it: converged, not converged, no doubling, not fitted."""
    specs = multiverse_specs(sim_spec(targets=()), benchmarks=SIM_BENCHMARKS[:3], references=("sim", "alt"))
    rng = np.random.default_rng(1)
    rows = []
    for i, s in enumerate(specs):
        med = float(rng.uniform(2, 6))
        rows.append({"name": s.name, "benchmarks": "+".join(s.benchmarks), "n_benchmarks": len(s.benchmarks),
                     "reference": s.reference, "n_models": 30, "n_scores": 60, "doubling_months_median": med,
                     "doubling_months_lo": 0.8 * med, "doubling_months_hi": math.inf if i == 3 else 1.3 * med,
                     "A_per_day_median": 0.007, "rhat_max": 1.05 if i == 1 else 1.001, "ess_bulk_min": 300.0,
                     "divergences": 0, "fit_s": 12.0, "error": "", "chains": 4, "draws": 500, "tune": 500, "seed": 1,
                     "run_file": ""})
    rows[5].update(doubling_months_median=math.nan, doubling_months_lo=math.nan, doubling_months_hi=math.nan,
                   error="spec selects 2 models: need at least 3 to fit a trend")
    return pd.DataFrame(rows, columns=list(COLUMNS))


def test_specification_curve_figure():
    import matplotlib.pyplot as plt

    t = fake_table()
    fig = plots.specification_curve(t)
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 2
    top, matrix = fig.axes
    assert top.get_yscale() == "log" and top.get_shared_x_axes().joined(top, matrix)
    labels = [x.get_text() for x in matrix.get_yticklabels()]
    assert labels == list(SIM_BENCHMARKS[:3]) + ["reference: sim", "reference: alt"]
    text = " ".join(x.get_text() for x in fig.texts) + top.get_title()
    assert t["name"][5] in text and "not converged" in text and "90%" in text
    plt.close(fig)


def test_report_has_a_multiverse_section(run_a):
    from bayes_density.present.report import build_report

    tree = run_a
    t = fake_table()
    html = build_report([tree], sensitivity=False, multiverse=t)
    assert "<section id='multiverse'><h2>Multiverse</h2>" in html and "href='#multiverse'" in html
    section = html.split("<section id='multiverse'>")[1].split("</section>")[0]
    assert section.count("<img ") == 1 and "specification curve" in section
    fitted = sort_curve(t)
    order = [section.index(f">{n}<") for n in fitted["name"]]  # table rows sorted by median doubling time
    assert order == sorted(order)
    assert "need at least 3" in section
    assert "Multiverse" not in build_report([tree], sensitivity=False)


def test_cli_report_rejects_a_bad_multiverse_table(table, tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("name,score\nx,1\n")
    out = tmp_path / "report.html"
    for csv in (tmp_path / "bad.csv", tmp_path / "missing.csv"):
        rc = main(["report", table["run_file"][0], "--multiverse", str(csv), "--out", str(out)])
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith("error: ") and csv.name in err, err
    assert not out.exists()


# ---------------------------------------------------------------- compile once: specs as masks


def test_masked_inputs_hold_exactly_the_specs_scores(sim_dir, base):
    from bayes_density.model.design import masked, prepare
    from bayes_density.model.joint import structure_key

    data = load_data(sim_dir / "data")
    spec = base.replace(benchmarks=("SimMath", "SimCodeSmall"), name="two", min_scores=2)
    own, full, m = prepare(data, spec), prepare(data, base), masked(data, spec, base)

    def obs(x):
        return sorted(zip(np.asarray(x.units)[x.obs_unit], np.asarray(x.benchmarks)[x.obs_bench],
                          x.obs_k.tolist(), x.obs_n.tolist()))

    assert obs(m) == obs(own) and m.n_obs < full.n_obs
    # base's structure (one compiled model for every mask), fewer fitted models with scores
    assert structure_key(m, spec) == structure_key(full, base) and m.models == full.models
    assert len(set(m.obs_unit[m.obs_unit < m.n_models])) == own.n_models < m.n_models
    np.testing.assert_array_equal(m.level(), full.level())


def test_shared_base_is_the_union_or_none(base):
    specs = multiverse_specs(base, benchmarks=("SimMC", "SimMath", "SimCode"), references=("sim",))
    assert shared_base(specs).benchmarks == ("SimMC", "SimMath", "SimCode")
    assert shared_base(specs[:2] + [specs[2].replace(trend="break")]) is None


def test_compile_once_reuses_one_model_and_agrees(sim_dir, base, table):
    """Three specs on one worker as masks: one compile, the others swap data; the masked fits land
    inside the separately compiled fits' intervals (table fixture, same seed)."""
    specs = multiverse_specs(base, benchmarks=("SimMC", "SimCodeSmall"), references=("sim",))
    df = run_multiverse(str(sim_dir / "data"), specs, workers=1, progress=False, compile_once=True, **SETTINGS)
    assert df.attrs["compile_once"] and (df["error"] == "").all()
    comp = df.set_index("name")["compile_s"]
    # fits run longest-first: SimMC+SimCodeSmall compiles (shareable data), the others swap arrays
    assert comp["SimMC|sim"] < 0.2 * comp["SimMC+SimCodeSmall|sim"], comp.to_dict()
    assert comp["SimCodeSmall|sim"] < 0.2 * comp["SimMC+SimCodeSmall|sim"], comp.to_dict()
    for name in ("SimMC|sim", "SimCodeSmall|sim"):
        each = table.set_index("name").loc[name]
        once = df.set_index("name").loc[name]
        assert once["n_models"] == each["n_models"] and once["n_scores"] == each["n_scores"]
        assert each["doubling_months_lo"] <= once["doubling_months_median"] <= each["doubling_months_hi"]


def test_a_fit_that_is_not_converged_is_rerun_longer(sim_dir, base):
    """20 draws x 2 chains cannot reach bulk ESS 400: one rerun, with twice the draws and tuning."""
    spec = multiverse_specs(base, benchmarks=("SimMC",), references=("sim",))[0]
    row = fit_spec(load_data(sim_dir / "data"), spec, draws=20, tune=20, chains=2, seed=7, reruns=1)
    assert row["error"] == "" and (row["reruns"], row["draws"], row["tune"]) == (1, 40, 40)
    assert not converged(row) and row["ess_bulk_min"] < 400


def test_a_failed_fit_raises_for_the_engine_to_retry(sim_dir, base, monkeypatch):
    """A sampler error is not a data problem: fit_spec raises (the engine retries and records it as
    failed, so a rerun of the sweep tries again) instead of returning a row a rerun would reuse."""
    from bayes_density.inference import fit as fit_mod

    def broken(*a, **k):
        raise OSError("No space left on device")

    monkeypatch.setattr(fit_mod, "sample", broken)
    spec = multiverse_specs(base, benchmarks=("SimMC",), references=("sim",))[0]
    with pytest.raises(OSError, match="No space"):
        fit_spec(load_data(sim_dir / "data"), spec, draws=20, tune=20, chains=2, seed=7)

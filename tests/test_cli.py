"""End to end through the command line, on data simulated from the model and written as CSVs."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from bayes_density.cli import main
from bayes_density.model.simulate import simulate, synthetic_inputs, write_tables

from .conftest import SIM_BENCHMARKS, sim_spec

SPEC = f"""name = "sim"
description = "simulated data"
[data]
benchmarks = {list(SIM_BENCHMARKS)!r}
reference = "sim"
[trend]
form = "{{form}}"
break_date = "2024-01-01"
[target]
names = ["SimTarget-0"]
[sampler]
draws = 300
tune = 300
chains = 2
seed = 3
"""


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("simdata")
    spec = sim_spec(targets=("SimTarget-0",))
    inputs, _ = simulate(synthetic_inputs(40, seed=21, n_targets=1), spec, seed=21)
    write_tables(inputs, d / "data")
    for form in ("linear", "break"):
        (d / f"{form}.toml").write_text(SPEC.replace("{form}", form))
    return d


@pytest.fixture(scope="module")
def runs(sim_dir):
    """One fit through the CLI (linear); the break run is that fit relabelled with a drawn slope change
    (tests/test_report.py fake_break_run): the CLI's break paths without a second compile and fit."""
    from bayes_density.inference.run import Run

    from .test_report import fake_break_run

    path = sim_dir / "linear.nc"
    rc = main(["fit", "--data", str(sim_dir / "data"), "--model", str(sim_dir / "linear.toml"),
               "--out", str(path), "--no-progress"])
    assert rc == 0 and path.exists()
    brk = sim_dir / "break.nc"
    Run(fake_break_run(Run.load(path).tree)).save(brk)
    return {"linear": path, "break": brk}


def test_summary_json(runs, capsys):
    capsys.readouterr()
    assert main(["summary", str(runs["linear"]), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("doubling_time_months", "A_per_day", "rhat_max", "ess_bulk_min", "divergences", "n_models",
                "n_scores"):
        assert key in d, key
    assert set(d["doubling_time_months"]) == {"median", "lo", "hi"}
    assert d["doubling_time_months"]["lo"] <= d["doubling_time_months"]["median"] <= d["doubling_time_months"]["hi"]
    assert d["n_models"] == 40
    assert "paper_baseline" in d and np.isfinite(d["paper_baseline"]["A_per_day"])


def test_summary_text(runs, capsys):
    assert main(["summary", str(runs["break"])]) == 0
    out = capsys.readouterr().out
    assert "doubling time" in out and "P(A_after > A_before)" in out


def test_compare_json(runs, capsys):
    capsys.readouterr()
    assert main(["compare", str(runs["linear"]), str(runs["break"]), "--json", "--refit-bad", "0",
                 "--loo-draws", "200"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["loo_unit"] == "model"  # by default: leave one LLM out, not one score
    assert {r["name"] for r in d["models"]} == {"linear", "break"}
    for r in d["models"]:
        assert {"name", "elpd_loo", "se", "weight", "n_units", "n_refit"} <= set(r) and r["n_refit"] == 0
    assert abs(sum(r["weight"] for r in d["models"]) - 1) < 1e-6
    assert 0 <= d["p_acceleration"] <= 1
    n_models = d["models"][0]["n_units"]
    assert main(["compare", str(runs["linear"]), str(runs["break"]), "--json", "--loo", "score"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["loo_unit"] == "score" and d["models"][0]["n_units"] > n_models  # several scores per model
    assert main(["compare", str(runs["linear"]), str(runs["break"]), "--refit-bad", "-1"]) == 2
    assert main(["compare", str(runs["linear"]), str(runs["break"]), "--loo-draws", "0"]) == 2


def test_density_places_new_models(runs, sim_dir, tmp_path, capsys):
    data = sim_dir / "data"
    models = pd.read_csv(data / "models.csv")
    scores = pd.read_csv(data / "scores.csv")
    # a fitted model, and the same model "released" two years later (extrapolated trend)
    m = models[models["name"] == "Sim-0020"].copy()
    later = m.assign(name="Sim-0020-later", release_date="2027-06-01")
    pd.concat([m, later]).to_csv(tmp_path / "m.csv", index=False)
    s = scores[scores["model"] == "Sim-0020"]
    pd.concat([s, s.assign(model="Sim-0020-later")]).to_csv(tmp_path / "s.csv", index=False)
    capsys.readouterr()
    assert main(["density", str(runs["linear"]), "--models", str(tmp_path / "m.csv"),
                 "--scores", str(tmp_path / "s.csv"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in d["models"]}
    assert set(rows) == {"Sim-0020", "Sim-0020-later"}
    for r in rows.values():
        assert {"name", "release_date", "neff", "density", "p_above_trend"} <= set(r)
        assert r["density"]["lo"] <= r["density"]["median"] <= r["density"]["hi"]
    # same scores, much later date: the model sits far below the extrapolated frontier
    assert rows["Sim-0020-later"]["p_above_trend"] < rows["Sim-0020"]["p_above_trend"]
    assert rows["Sim-0020-later"]["p_above_trend"] < 0.05


def test_bad_scores_exit_nonzero_and_write_nothing(sim_dir, tmp_path, capsys):
    data = tmp_path / "bad"
    data.mkdir()
    for f in (sim_dir / "data").iterdir():
        (data / f.name).write_text(f.read_text())
    s = pd.read_csv(data / "scores.csv")
    s.loc[3, "score"] = 45.0  # a percent, not a fraction
    s.to_csv(data / "scores.csv", index=False)
    out = tmp_path / "run.nc"
    rc = main(["fit", "--data", str(data), "--model", str(sim_dir / "linear.toml"), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "scores.csv" in err and "row 4" in err and "'score'" in err and "percent" in err
    assert not out.exists() and not list(tmp_path.glob(".run.nc*"))


def test_break_without_data_on_one_side(sim_dir, tmp_path, capsys):
    spec = (sim_dir / "break.toml").read_text().replace('break_date = "2024-01-01"', 'break_date = "2021-01-01"')
    (tmp_path / "b.toml").write_text(spec)
    rc = main(["fit", "--data", str(sim_dir / "data"), "--model", str(tmp_path / "b.toml"),
               "--out", str(tmp_path / "r.nc")])
    err = capsys.readouterr().err
    assert rc == 2 and "break_date = 2021-01-01" in err and "0 model(s) before" in err
    assert not (tmp_path / "r.nc").exists()


def test_unknown_spec_and_missing_run(capsys):
    assert main(["fit", "--model", "no_such_spec", "--out", "/tmp/x.nc"]) == 2
    assert "shipped specs" in capsys.readouterr().err
    assert main(["summary", "/nonexistent/run.nc"]) == 2
    assert "no such run file" in capsys.readouterr().err


def test_run_file_errors(tmp_path, capsys):
    """A file that is not NetCDF, or a NetCDF that is not a run: one error line naming the file, exit 2."""
    import xarray as xr

    from bayes_density import RunFileError, Run

    text = tmp_path / "notes.nc"
    text.write_text("not a run\n")
    with pytest.raises(RunFileError, match="notes.nc"):
        Run.load(text)
    other = tmp_path / "other.nc"
    xr.DataTree(xr.Dataset({"x": ("i", [1.0, 2.0])})).to_netcdf(other, engine="h5netcdf")
    with pytest.raises(RunFileError, match="not a bayes-density run"):
        Run.load(other)
    for path in (text, other):
        assert main(["summary", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and str(path) in err and "Traceback" not in err


def test_internal_errors_are_not_input_errors(monkeypatch):
    """Only InputError means 'your input is wrong' (exit 2); any other error propagates (exit 1)."""
    from bayes_density.data import coverage

    def boom(data):
        raise ValueError("an internal bug")

    monkeypatch.setattr(coverage, "coverage_summary", boom)
    with pytest.raises(ValueError, match="internal bug"):
        main(["data"])


def test_spec_flag_and_model_alias(capsys):
    assert main(["specs"]) == 0
    assert "default" in capsys.readouterr().out
    for flag in ("--spec", "--model"):
        assert main(["fit", flag, "no_such_spec", "--out", "/tmp/x.nc"]) == 2
        assert "shipped specs" in capsys.readouterr().err


# ---------------------------------------------------------------- issue 15: one error line, exit 2, nothing written


def _one_error_line(capsys) -> str:
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), cap.err
    assert "Traceback" not in cap.err and "np.str_" not in cap.err
    return lines[0]


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    import xarray as xr

    d = tmp_path_factory.mktemp("badruns")
    text = d / "notes.nc"
    text.write_text("not a run\n")
    other = d / "other.nc"
    xr.DataTree(xr.Dataset({"x": ("i", [1.0, 2.0])})).to_netcdf(other, engine="h5netcdf")
    return {"text": text, "netcdf": other, "missing": d / "absent.nc"}


@pytest.mark.parametrize("kind", ["text", "netcdf", "missing"])
@pytest.mark.parametrize("command", ["summary", "check", "project", "report", "density", "compare"])
def test_every_command_rejects_a_bad_run_file(command, kind, bad_runs, sim_dir, tmp_path, capsys):
    path = str(bad_runs[kind])
    out = tmp_path / "out.html"
    argv = {"summary": ["summary", path], "check": ["check", path, "--figures", str(tmp_path / "figs")],
            "project": ["project", path, "--target", "SimTarget-0"],
            "report": ["report", path, "--out", str(out)],
            "density": ["density", path, "--models", str(sim_dir / "data" / "models.csv"),
                        "--scores", str(sim_dir / "data" / "scores.csv")],
            "compare": ["compare", path, path]}[command]
    capsys.readouterr()
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert path in line
    assert not out.exists() and not (tmp_path / "figs").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags, fragment", [
    (["--chains", "0"], "--chains must be >= 1"),
    (["--draws", "0"], "--draws must be >= 1"),
    (["--tune", "0"], "--tune must be >= 1"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--until", "not-a-date"], "--until 'not-a-date' is not a date"),
    (["--until", "2024/01/01"], "--until '2024/01/01' is not a date"),
    (["--until", "2019-06-01"], "distinct release date"),
])
def test_bad_sampler_settings_and_until(flags, fragment, tmp_path, capsys):
    """On the shipped data: each bad setting is one error line naming it, exit 2, no run written."""
    out = tmp_path / "run.nc"
    capsys.readouterr()
    assert main(["fit", *flags, "--out", str(out), "--no-progress"]) == 2
    line = _one_error_line(capsys)
    assert fragment in line, line
    assert "default.toml" not in line
    assert list(tmp_path.iterdir()) == []


def test_a_run_without_draws_is_not_a_run(runs, tmp_path, capsys):
    from bayes_density.inference.run import Run

    tree = Run.load(runs["linear"]).tree.copy(deep=True)
    tree["posterior"] = tree.posterior.to_dataset().isel(draw=slice(0, 0))
    path = tmp_path / "empty.nc"
    tree.to_netcdf(path, engine="h5netcdf")
    capsys.readouterr()
    assert main(["summary", str(path)]) == 2
    assert "no posterior draws" in _one_error_line(capsys)


def test_project_a_target_the_spec_did_not_name(runs, sim_dir, tmp_path, capsys):
    """A target placed against the posterior (no refit) agrees with the same target fitted jointly."""
    targets = pd.read_csv(sim_dir / "data" / "targets.csv")
    mine = targets[targets["target"] == "SimTarget-0"].assign(target="My-Closed-Model")
    path = tmp_path / "my_targets.csv"
    mine.to_csv(path, index=False)
    capsys.readouterr()
    assert main(["project", str(runs["linear"]), "--target", "My-Closed-Model", "--targets", str(path),
                 "--json"]) == 0
    placed = json.loads(capsys.readouterr().out)
    assert placed["placed"] is True and placed["target"] == "My-Closed-Model"
    assert main(["project", str(runs["linear"]), "--target", "SimTarget-0", "--json"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["placed"] is False
    # the placement ignores only the target's feedback on the shared parameters
    ratio = np.log(placed["target_neff"]["median"] / fitted["target_neff"]["median"])
    width = np.log(fitted["target_neff"]["hi"] / fitted["target_neff"]["lo"])
    assert abs(ratio) < 0.25 * width, (placed["target_neff"], fitted["target_neff"])
    assert main(["project", str(runs["linear"]), "--target", "My-Closed-Model", "--targets", str(path)]) == 0
    assert "projected date" in capsys.readouterr().out
    assert main(["project", str(runs["linear"]), "--target", "Nobody", "--targets", str(path)]) == 2
    assert "unknown target 'Nobody'" in _one_error_line(capsys)


def test_summary_and_report_show_the_published_figures_and_the_projection(runs, tmp_path, capsys):
    capsys.readouterr()
    assert main(["summary", str(runs["linear"])]) == 0
    out = capsys.readouterr().out
    assert "published (point estimates, no intervals)" in out and "3.3 months" in out and "3.5 months" in out
    assert "why they differ:" in out and "multiverse" in out and "backtest" in out
    assert main(["summary", str(runs["linear"]), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["paper"]["published"][0]["doubling_months"] == 3.3 and "reference" in d["paper"]["differences"]
    assert all(r["params"] == float(f"{r['params']:.12g}") for r in d["top_density"])  # sizes as given
    html_path = tmp_path / "r.html"
    assert main(["report", str(runs["linear"]), "--out", str(html_path)]) == 0
    html = html_path.read_text(encoding="utf-8")
    assert "Against the published figures" in html and "arXiv 2412.04315 v2" in html and "Nature Machine" in html
    assert "id='why-differ'" in html and "multiverse" in html
    text = re.search(r"id='projection-text'>(.*?)</p>", html).group(1)
    assert "SimTarget-0" in text and re.search(r"around <b>\d{4}-\d{2}-\d{2}</b>", text), text
    assert re.search(r"interval <b>[^<]+</b> to <b>[^<]+</b>", text), text
    assert "supplied by the caller" not in html
    assert "doubling_time_months" not in html and "A_per_day" not in html


def test_text_output_reads_well(runs, sim_dir, capsys):
    from bayes_density.present.text import article

    assert [article(w) for w in ("8B", "1.5B", "11B", "70B", "80B")] == ["an", "a", "an", "a", "an"]
    capsys.readouterr()
    assert main(["project", str(runs["linear"]), "--target", "SimTarget-0"]) == 0
    assert "an 8B-parameter model" in capsys.readouterr().out
    assert main(["compare", str(runs["linear"]), str(runs["break"]), "--refit-bad", "0", "--loo-draws", "200"]) == 0
    cap = capsys.readouterr()
    assert cap.out.startswith("LOO: integrated PSIS-LOO by model")
    assert "UserWarning" not in cap.err and "Estimated shape parameter" not in cap.err
    assert main(["check", str(runs["linear"])]) == 0
    assert "rule: ok when LOO-PIT KS p >=" in capsys.readouterr().out

"""Issue 15, item 3: a --data folder with only the user's own models works: the reference
family's models and scores come from the shipped data unless the user provides them."""

from __future__ import annotations

import pandas as pd
from bayes_density.cli import main
from bayes_density.data.io import load_data
from bayes_density.data.resources import shipped_data_dir

OWN = ("Qwen2.5-7B", "Llama-3.1-8B", "Mistral-7B-v0.1")


def own_folder(path, n: int):
    """A folder with models.csv and scores.csv holding ``n`` renamed copies of shipped models."""
    shipped = shipped_data_dir()
    models, scores = pd.read_csv(shipped / "models.csv"), pd.read_csv(shipped / "scores.csv")
    pick = [m for m in OWN if m in set(models["name"])][:n]
    assert len(pick) == n
    rename = {m: f"My-Model-{i}" for i, m in enumerate(pick)}
    path.mkdir()
    models[models["name"].isin(pick)].assign(name=lambda d: d["name"].map(rename)).to_csv(
        path / "models.csv", index=False)
    scores[scores["model"].isin(pick)].assign(model=lambda d: d["model"].map(rename)).to_csv(
        path / "scores.csv", index=False)
    return path, list(rename.values())


def test_two_own_models_load_with_the_shipped_reference_family(tmp_path, capsys):
    folder, names = own_folder(tmp_path / "mine", 2)
    data = load_data(folder)
    refs = set(data.reference_models("llama")["model"])
    assert refs and refs <= set(data.models["name"]) and refs <= set(data.borrowed)
    assert refs <= set(data.scores["model"])  # their shipped scores came along
    assert set(names) <= set(data.models["name"])
    assert any("come from the shipped data" in n for n in data.notes)
    assert main(["data", "--data", str(folder)]) == 0
    # two models are too few for a trend: a clear selection error, not a reference error
    capsys.readouterr()
    out = tmp_path / "run.nc"
    assert main(["fit", "--data", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "reference" not in err and "2 models" in err
    assert not out.exists()


def test_three_own_models_fit_only_the_users_models(tmp_path):
    from bayes_density.analysis import DensityAnalysis

    folder, names = own_folder(tmp_path / "mine", 3)
    a = DensityAnalysis(folder)
    assert sorted(a.inputs.models) == sorted(names)  # no borrowed model joins the trend
    assert set(a.inputs.references) == set(load_data().reference_models("llama")["model"])


def test_the_users_reference_rows_override_the_shipped_ones(tmp_path):
    folder, _ = own_folder(tmp_path / "mine", 2)
    shipped = pd.read_csv(shipped_data_dir() / "models.csv")
    row = shipped[shipped["name"] == "Llama-2-7B"].assign(notes="my own row")
    pd.concat([pd.read_csv(folder / "models.csv"), row]).to_csv(folder / "models.csv", index=False)
    data = load_data(folder)
    assert "Llama-2-7B" not in data.borrowed
    assert (data.models["name"] == "Llama-2-7B").sum() == 1
    assert data.models.loc[data.models["name"] == "Llama-2-7B", "notes"].iloc[0] == "my own row"


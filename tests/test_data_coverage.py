"""Coverage and integrity of the shipped data tables (data/*.csv).

Reads the CSVs with pandas directly (independent of bayes_density.data.io). Every number
asserted here is computed from the data. ``pytest -s`` prints the join-loss report.
Rebuild the tables with ``.venv/bin/python data/build_tables.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
RAW = REPO.parent / "shared" / "data" / "raw"

PAPER5 = ("MMLU", "BBH", "MATH", "HumanEval", "MBPP")
COLUMNS = {
    "models": ["name", "family", "release_date", "date_source", "params", "active_params", "tokens",
               "base_or_instruct", "open_or_closed", "source", "notes", "derived_from", "derivation",
               "derivation_source", "specialty", "specialty_source"],
    "scores": ["model", "benchmark", "score", "shots", "cot", "harness", "source", "source_kind"],
    "benchmarks": ["name", "n_items", "chance", "answer_type", "source", "family", "domain", "scoring"],
    "targets": ["target", "benchmark", "score", "shots", "source"],
    "losses": ["params", "tokens", "loss", "source"],
    "references": ["set", "model", "source"],
    "name_map": ["source_file", "source_name", "name"],
    "curation_log": ["table", "name", "column", "old_value", "new_value", "reason", "source"],
}
KEYS = {
    "models": ["name"], "scores": ["model", "benchmark", "source", "shots"], "benchmarks": ["name"],
    "targets": ["target", "benchmark", "source"], "losses": ["params", "tokens"], "references": ["set", "model"],
}
# raw files that feed scores.csv -> a string every score row taken from that file carries in its source
SCORE_SOURCES = {
    "obsscaling/base_llm_benchmark_eval.csv": "eval_results/base_llm_benchmark_eval.csv",
    "obsscaling/base_llm_benchmark_eval_sub_10b.csv": "base_llm_benchmark_eval_sub_10b.csv",
    "obsscaling/base_llm_leaderboard_v2_eval.csv": "base_llm_leaderboard_v2_eval.csv",
    "obsscaling/base_llm_emergent_capability_eval.csv": "base_llm_emergent_capability_eval.csv",
    "epoch_open_model_trends/benchmarks_with_model_accessibility.csv": "benchmarks_with_model_accessibility.csv",
    "epoch_benchmark_stitching/external_benchmark_mmlu.csv": "external_benchmark_mmlu.csv",
    "epoch_benchmark_stitching/external_benchmark_bbh.csv": "external_benchmark_bbh.csv",
    "epoch_benchmark_stitching/external_benchmark_gsm8k.csv": "external_benchmark_gsm8k.csv",
    "epoch_benchmark_stitching/external_benchmark_hellaswag.csv": "external_benchmark_hellaswag.csv",
    "epoch_benchmark_stitching/external_benchmark_winogrande.csv": "external_benchmark_winogrande.csv",
    "epoch_benchmark_stitching/external_benchmark_arc_ai2.csv": "external_benchmark_arc_ai2.csv",
    "epoch_benchmark_stitching/benchmarks_runs.csv": "benchmarks_runs.csv",
    "transcribed/base_model_scores_from_reports.csv": "transcribed/base_model_scores_from_reports.csv",
}
DENSING = "transcribed/densing_paper_model_list.csv"

# Fig.-1 labels of the Densing paper that no raw source covers with a benchmark score:
FIG1_NOT_COVERED = {
    # MANIFEST 'Not found': MiniCPM paper table with MiniCPM-1.2B scores only seen as secondary quotes, not transcribed
    "MiniCPM-1-1.2B": "no benchmark scores for MiniCPM-1B in any raw file (MANIFEST: not transcribed)",
    # MANIFEST 'Not found': 'No public base-model scores for MiniCPM-3-4B'
    "MiniCPM-3-4B": "no public base-model scores (MANIFEST)",
    # MANIFEST 'Not found': 'Phi-1 (1.3B) benchmark table'; no Epoch/ObsScaling row either
    "Phi-1-1.2B": "no Phi-1 scores in any raw file (MANIFEST: Phi-1 table not found)",
}
FIG4_PRE_CHATGPT = ["GPT-3-175B", "Gopher-280B", "Chinchilla-70B", "PaLM-8B", "PaLM-62B", "PaLM-540B", "OPT-66B", "GPT-NeoX-20B"]


def load(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def t():
    out = {k: load(k) for k in COLUMNS}
    for k in ("models",):
        for c in ("params", "active_params", "tokens"):
            out[k][c] = pd.to_numeric(out[k][c].replace("", None))
    out["scores"]["score"] = pd.to_numeric(out["scores"]["score"])
    out["targets"]["score"] = pd.to_numeric(out["targets"]["score"])
    for c in ("params", "tokens", "loss"):
        out["losses"][c] = pd.to_numeric(out["losses"][c])
    return out


def usable(t) -> pd.DataFrame:
    """Open base models with a release date, a parameter count and at least one score."""
    m = t["models"]
    ok = m[(m.open_or_closed == "open") & (m.base_or_instruct == "base") & (m.release_date != "") & m.params.notna()]
    return ok[ok.name.isin(set(t["scores"].model))]


def test_columns_exactly_as_schema(t):
    for name, cols in COLUMNS.items():
        assert list(t[name].columns) == cols, name
    try:  # the schema module is the single statement of the columns; check we agree with it when importable
        from bayes_density.data.schema import TABLES
    except Exception:  # pragma: no cover - the loader package may be mid-edit
        return
    for name, table in TABLES.items():
        # the shipped file has every schema column, in schema order, except optional ones it leaves out
        # (targets.csv has no source_kind: its scores are the developers' own, the default)
        present = [c.name for c in table.columns if c.name in COLUMNS[name]]
        assert present == COLUMNS[name], name
        assert all(c.name in COLUMNS[name] for c in table.columns if c.required), name


def test_no_duplicate_keys(t):
    for name, key in KEYS.items():
        d = t[name]
        assert not d.duplicated(key).any(), f"{name}: duplicate {key}: {d[d.duplicated(key, keep=False)].head()}"


def test_values_and_types(t):
    m, s, b = t["models"], t["scores"], t["benchmarks"]
    assert s.score.between(0, 1).all()
    assert t["targets"].score.between(0, 1).all()
    assert (m.params > 0).all()
    assert (m.active_params.dropna() > 0).all() and (m.tokens.dropna() > 0).all()
    assert (m.active_params.dropna() <= m.params[m.active_params.notna()] + 1).all()
    assert m.release_date.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    pd.to_datetime(m.release_date, format="%Y-%m-%d")  # raises on an impossible date
    assert set(m.base_or_instruct) <= {"base", "instruct"} and set(m.open_or_closed) <= {"open", "closed"}
    assert (m.date_source != "").all() and (m.source != "").all() and (s.source != "").all()
    assert s.shots.str.fullmatch(r"\d*").all() and set(s.cot) <= {"", "True", "False"}
    assert (pd.to_numeric(b.n_items) > 0).all() and pd.to_numeric(b.chance).between(0, 1).all()
    assert set(b.answer_type) <= {"multiple_choice", "generated", "two_way"}
    assert (b.source != "").all() and (t["targets"].source != "").all() and (t["losses"].source != "").all()
    assert (t["losses"][["params", "tokens", "loss"]] > 0).all().all()
    # sizes are counts, not billions (the smallest model has more than a million parameters)
    assert m.params.min() > 1e6 and m.tokens.dropna().min() > 1e9


def test_foreign_keys(t):
    models, benches = set(t["models"].name), set(t["benchmarks"].name)
    assert set(t["scores"].model) <= models, set(t["scores"].model) - models
    assert set(t["scores"].benchmark) <= benches, set(t["scores"].benchmark) - benches
    assert set(t["targets"].benchmark) <= benches
    assert set(t["references"].model) <= models
    named = set(t["name_map"].name) - {""}
    assert set(t["scores"].model) <= named  # every scored model is reachable from a raw name


def test_paper_benchmarks_present(t):
    names = set(t["benchmarks"].name)
    for b in ("MMLU", "BBH", "MATH", "MATH-L5", "HumanEval", "MBPP", "GSM8K", "ARC-C", "HellaSwag",
              "Winogrande", "TruthfulQA", "MMLU-Pro", "GPQA"):
        assert b in names, b


def test_coverage_open_base_models(t):
    ok = usable(t)
    print(f"\nopen base models with date, params and >= 1 score: {len(ok)}")
    assert len(ok) >= 100


def test_coverage_paper_five(t):
    ok = usable(t)
    s = t["scores"]
    per = s[s.benchmark.isin(PAPER5)].groupby("model").benchmark.nunique()
    n3 = int(sum(per.get(n, 0) >= 3 for n in ok.name))
    print(f"\nopen base models with >= 3 of {PAPER5}: {n3}")
    assert n3 >= 40


def test_fig1_models_present(t):
    nm = t["name_map"]
    lab = nm[nm.source_file == DENSING]
    assert len(lab) >= 37, "name_map must map every Densing-paper label"
    fig1 = lab
    if (RAW / DENSING).exists():  # use the raw flag when the raw files are next to the repo
        raw = pd.read_csv(RAW / DENSING)
        fig1_labels = set(raw[raw.in_fig1_5benchmark_trend == 1].model_label_in_paper)
        assert fig1_labels <= set(lab.source_name)
        fig1 = lab[lab.source_name.isin(fig1_labels)]
    else:
        fig1 = lab[~lab.source_name.isin(["PaLM-8B", "GPT-NeoX-20B", "PaLM-62B", "PaLM-540B", "Chinchilla 70B",
                                          "GPT-3-175B", "Gopher-280B", "OPT-66B"])]
    models, scored = set(t["models"].name), set(t["scores"].model)
    missing = []
    for label, name in zip(fig1.source_name, fig1.name):
        if label in FIG1_NOT_COVERED:
            assert name not in scored, f"{label} is now covered: remove it from FIG1_NOT_COVERED"
            continue
        if name not in models or name not in scored:
            missing.append((label, name))
    assert not missing, f"Fig.-1 models missing from models/scores: {missing}"


def test_fig4_pre_chatgpt_models_have_mmlu(t):
    m = t["models"].set_index("name")
    s = t["scores"]
    for n in FIG4_PRE_CHATGPT:
        assert n in m.index, n
        assert m.loc[n, "release_date"] < "2022-11-30", n  # before ChatGPT
        assert not pd.isna(m.loc[n, "params"]), n
        assert ((s.model == n) & (s.benchmark == "MMLU")).any(), f"{n} has no MMLU score"


def test_reference_sets(t):
    r, m = t["references"], t["models"].set_index("name")
    sets = set(r.set)
    assert "llama" in sets and len(sets) >= 2
    llama = set(r[r.set == "llama"].model)
    assert llama == {"Llama-1-7B", "Llama-1-13B", "Llama-1-33B", "Llama-1-65B", "Llama-2-7B", "Llama-2-13B", "Llama-2-70B"}
    for name in r.model:
        assert not pd.isna(m.loc[name, "params"]) and not pd.isna(m.loc[name, "tokens"]), name
    s = t["scores"]
    for st in sets - {"llama"}:
        members = list(r[r.set == st].model)
        assert len(members) >= 3
        fams = set(m.loc[members, "family"])
        assert len(fams) == 1, f"set {st} mixes families {fams}"
        for name in members:  # MMLU plus two more of the paper's five or GSM8K/ARC-C/HellaSwag
            b = set(s[s.model == name].benchmark)
            assert "MMLU" in b and len(b & {"BBH", "MATH", "HumanEval", "MBPP", "GSM8K", "ARC-C", "HellaSwag"}) >= 2, (st, name, b)


def test_losses(t):
    l = t["losses"]
    assert len(l) == 245
    # tokens = C / (6 N) within floating error of the digitised values, and the ranges are plausible counts
    assert l.params.between(1e7, 1e11).all() and l.tokens.between(1e8, 1e12).all()
    log = t["curation_log"]
    assert (log.table == "losses").sum() == 5  # the 5 highest-loss points the replication drops are recorded


def test_manifest_quirks_logged(t):
    log, m = t["curation_log"], t["models"].set_index("name")
    reasons = " ".join(log.reason)
    assert m.loc["Llama-2-7B", "params"] == 7e9
    assert m.loc["OpenLLaMA-7B-v2", "params"] == 7e9
    assert m.loc["BTLM-3B-8K", "tokens"] == 0.627e12
    assert m.loc["Mixtral-8x7B-v0.1", "params"] == 46.7e9 and m.loc["Mixtral-8x7B-v0.1", "active_params"] == 12.9e9
    assert m.loc["Falcon-40B", "release_date"] != "2023-03-15"
    assert m.loc["TinyLlama-1.1B", "release_date"] != "2023-10-01"
    assert "Llama-2-34B" not in m.index and "Llama-2-34B" not in set(t["scores"].model)
    for n in m.index:
        assert not re.match(r"(Flan-)?T5", n), n
    for key in ("7e10", "13.0 (B)", "627", "Falcon-40B", "TinyLlama", "never released", "averages of two benchmarks",
                "percent", "T5", "MoE"):
        assert key in reasons or key in " ".join(log.name), key


def test_join_loss_report(t):
    """For each raw score source, the raw names that did not make it into scores, each with its logged reason."""
    nm, s, log = t["name_map"], t["scores"], t["curation_log"]
    reasons = {}
    for r in log.itertuples(index=False):
        if r.table in ("name_map", "scores") and r.column in SCORE_SOURCES:
            reasons.setdefault((r.column, r.name), r.reason)
    if (RAW / "MANIFEST.md").exists():  # the name map covers every raw name of every score source
        for f in SCORE_SOURCES:
            if f.endswith("benchmarks_runs.csv"):
                raw = set(pd.read_csv(RAW / f, encoding="utf-8-sig").model)
            elif f.startswith("obsscaling"):
                raw = set(pd.read_csv(RAW / f).Model)
            elif f.startswith("epoch_open"):
                raw = set(pd.read_csv(RAW / f).System)
            elif f.startswith("epoch_benchmark_stitching/external"):
                d = pd.read_csv(RAW / f, encoding="utf-8-sig", dtype=str)
                raw = {n.strip() if isinstance(n, str) else f"[Model version] {v}" for n, v in zip(d.Name, d["Model version"])}
            else:
                import csv
                with open(RAW / f, newline="") as fh:
                    raw = {row[0] for row in list(csv.reader(fh))[1:]}
            mapped = set(nm[nm.source_file == f].source_name)
            assert raw <= mapped, f"{f}: raw names missing from name_map: {sorted(raw - mapped)[:5]}"
    unexplained, report = [], []
    for f, marker in SCORE_SOURCES.items():
        rows = nm[nm.source_file == f]
        from_file = s[s.source.str.contains(marker, regex=False)]
        got = set(from_file.model)
        lost = []
        for raw_name, group in rows.groupby("source_name"):
            names = set(group.name) - {""}
            if names and names & got:
                continue
            why = reasons.get((f, raw_name))
            if not why:
                unexplained.append((f, raw_name))
            lost.append((raw_name, why))
        report.append((f, rows.source_name.nunique(), lost))
    print("\njoin-loss report: raw names that did not make it into scores.csv")
    for f, n, lost in report:
        print(f"  {f}: {len(lost)} of {n} raw names dropped")
        for raw_name, why in sorted(lost, key=lambda x: x[0]):
            print(f"      {raw_name!r}: {why}")
    assert not unexplained, f"raw names dropped with no recorded reason: {unexplained[:10]}"


def test_targets(t):
    tg = t["targets"]
    gpt4 = tg[tg.target == "GPT-4"].set_index("benchmark").score
    assert {"MMLU", "GSM8K", "HumanEval"} <= set(gpt4.index)
    assert gpt4.between(0, 1).all()


def report_clashes(s: pd.DataFrame) -> list:
    """(model, report, score) where an Epoch external MMLU row equals the same report's BBH for that model."""
    ext = s[s.harness == "epoch-external"].copy()
    ext["report"] = ext.source.str.extract(r"reported in: (.*)$", expand=False).fillna("")
    ext = ext[ext.report != ""]
    key = ["model", "report"]
    bbh = ext[ext.benchmark == "BBH"].groupby(key).score.agg(lambda v: set(v.round(4)))
    return [(m, r, v) for m, r, v in ext[ext.benchmark == "MMLU"][key + ["score"]].itertuples(index=False)
            if (m, r) in bbh.index and round(v, 4) in bbh.loc[(m, r)]]


def test_no_cross_table_copy_from_one_report(t):
    """A report's BBH value never ships as the same model's MMLU from the same report.

    Epoch's external MMLU table gives Qwen-1.8B / 7B / 14B 28.2 / 45.0 / 53.4 (rows cited to the
    Qwen Technical Report): exactly the BBH values its external BBH table takes from that report;
    the Qwen README's own table has MMLU 45.3 / 58.2 / 66.3. Those rows are excluded
    (curation/score_exclusions.csv); any new row of that kind fails here.
    """
    s = t["scores"]
    assert not report_clashes(s)
    row = s[(s.model == "Qwen-7B") & (s.benchmark == "BBH") & (s.harness == "epoch-external")
            & s.source.str.contains("Qwen Technical Report")].iloc[[0]].copy()
    row["benchmark"] = "MMLU"  # the excluded row put back: the check finds it
    assert [c[0] for c in report_clashes(pd.concat([s, row]))] == ["Qwen-7B"]


def test_specialists_are_the_code_model_families_and_each_is_sourced(t):
    """models.csv ``specialty`` comes from curation/specialists.csv: every flagged model's family is
    a code family there, with a source, and no general model (GPT-J, Llama, ...) is flagged."""
    m = t["models"]
    flagged = m[m["specialty"].notna() & (m["specialty"] != "")]
    assert set(flagged["specialty"]) == {"code"}
    assert flagged["specialty_source"].str.contains("arXiv|qwenlm.github.io").all()
    assert set(flagged["family"]) == {"CodeLlama", "CodeQwen1.5", "DeepSeek-Coder", "DeepSeek-Coder-V2",
                                      "Qwen2.5-Coder", "StarCoder", "StarCoder2"}
    assert not m.loc[m["name"].isin(["GPT-J-6B", "Llama-2-7B", "Qwen2.5-7B"]), "specialty"].fillna("").any()

#!/usr/bin/env python
"""Build the curated data tables of bayes-density from the raw public files.

Reads the raw files listed in ``../shared/data/raw/MANIFEST.md`` (or ``--raw``)
and the small hand-made tables in ``data/curation/``, and writes

    data/models.csv  data/scores.csv  data/benchmarks.csv  data/targets.csv
    data/losses.csv  data/references.csv  data/name_map.csv  data/curation_log.csv

Deterministic (sorted output, no randomness, no network). Every row carries a
source; every fix or exclusion is a row of ``curation_log.csv``. Raw model names
are joined to canonical names only through the explicit table
``data/curation/name_map.csv`` (no fuzzy matching). The build fails loudly when a
raw name is not in that table, when a mapped name is not in
``data/curation/models.csv``, or when a raw name is dropped without a reason.

    .venv/bin/python data/build_tables.py [--raw PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import csv
import glob
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
CURATION = Path(__file__).resolve().parent / "curation"

# ------------------------------------------------------------------ provenance of the raw files (MANIFEST.md)
OBS_COMMIT = "4d6e1e43fd2635d04654aa77d1df9d5266ea0382"
ALLML_COMMIT = "4c4832d67916d3dfc445ea3fdd3952e10fd6549d"
BENCH_COMMIT = "56501dd04b61a37b4acd85df5cae74f2affcdead"
STITCH_NEW = "37d55ed7146750d8363924cdc79cda33856f297b"
STITCH_OLD = "95ee8183a81438ce9a0536eb6f7bb1c10e0d6965"
CHIN_COMMIT = "92258837425e1b5f2851d624287f0120583a3d0e"

OBS_MAIN = "obsscaling/base_llm_benchmark_eval.csv"
OBS_SUB = "obsscaling/base_llm_benchmark_eval_sub_10b.csv"
OBS_LB2 = "obsscaling/base_llm_leaderboard_v2_eval.csv"
OBS_EMERG = "obsscaling/base_llm_emergent_capability_eval.csv"
ALLML = "epoch_open_model_trends/All ML Systems - full view.csv"
BENCH = "epoch_open_model_trends/benchmarks_with_model_accessibility.csv"
MV = "epoch_benchmark_stitching/model_versions.csv"
RUNS = "epoch_benchmark_stitching/benchmarks_runs.csv"
CHIN = "epoch_chinchilla/svg_extracted_data.csv"
TR = "transcribed/base_model_scores_from_reports.csv"
TARGETS = "transcribed/closed_model_targets.csv"
DENSING = "transcribed/densing_paper_model_list.csv"
DISTILLED = "epoch_benchmark_stitching/distilled_models.csv"
SUPP = "transcribed/model_release_dates_supplement.csv"
T25 = "transcribed_2025/recent_base_scores.csv"
T25_LONG = "transcribed_2025/recent_base_scores_long.csv"
T25_MODELS = "transcribed_2025/models.csv"

# ------------------------------------------------------------------ who ran an evaluation (source_kind)
# organisation that released each model family (model cards / reports named in curation/models.csv and the raw files)
FAMILY_ORG = {
    "BLOOM": "BigScience", "BTLM": "Cerebras", "Cerebras-GPT": "Cerebras", "Baichuan": "Baichuan", "Baichuan2": "Baichuan",
    "Chinchilla": "Google", "Gopher": "Google", "PaLM": "Google", "Gemma": "Google", "Gemma-2": "Google", "Gemma-3": "Google",
    "CodeLlama": "Meta", "Llama-1": "Meta", "Llama-2": "Meta", "Llama-3": "Meta", "Llama-3.1": "Meta", "Llama-3.2": "Meta",
    "Llama-4": "Meta", "OPT": "Meta", "XGLM": "Meta",
    "CodeQwen1.5": "Alibaba", "Qwen": "Alibaba", "Qwen1.5": "Alibaba", "Qwen2": "Alibaba", "Qwen2.5": "Alibaba",
    "Qwen2.5-Coder": "Alibaba", "Qwen3": "Alibaba",
    "DeepSeek-Coder": "DeepSeek", "DeepSeek-Coder-V2": "DeepSeek", "DeepSeek-LLM": "DeepSeek", "DeepSeek-MoE": "DeepSeek",
    "DeepSeek-V2": "DeepSeek", "DeepSeek-V3": "DeepSeek",
    "Falcon": "TII", "Falcon2": "TII", "Falcon3": "TII", "GLM": "Zhipu/Tsinghua", "GPT-2": "OpenAI", "GPT-3": "OpenAI",
    "GPT-J": "EleutherAI", "GPT-Neo": "EleutherAI", "GPT-NeoX": "EleutherAI", "Pythia": "EleutherAI",
    "InternLM": "Shanghai AI Lab", "InternLM2": "Shanghai AI Lab", "Jamba": "AI21", "MPT": "MosaicML", "MiniCPM": "OpenBMB",
    "Minitron": "NVIDIA", "Nemotron-4": "NVIDIA", "Mistral": "Mistral", "Mixtral": "Mistral", "Mistral-Small-3": "Mistral",
    "OLMo": "AI2", "OLMo-2": "AI2", "OpenLLaMA": "OpenLM", "Phi": "Microsoft", "RedPajama-INCITE": "Together",
    "StableLM": "Stability", "StarCoder": "BigCode", "StarCoder2": "BigCode", "TinyLlama": "TinyLlama", "XGen": "Salesforce",
    "XVERSE": "XVERSE", "YaLM": "Yandex", "Yi": "01.AI", "Yi-1.5": "01.AI", "SmolLM3": "HuggingFace", "Hunyuan": "Tencent",
}
# who ran the numbers of each Epoch external 'Source' (the document's authors), or 'harness' for HELM
EPOCH_SOURCE_ORG = {
    "Qwen Technical Report": "Alibaba", "Qwen2.5-Coder Technical Report": "Alibaba", "Stanford CRFM Leaderboard": "harness",
    "Standford HELM": "harness", "Stanford HELM": "harness", "Yi: Open Foundation Models by 01.AI": "01.AI",
    "Llama 2: Open Foundation and Fine-Tuned Chat Models": "Meta", "LLaMA: Open and Efficient Foundation Language Models": "Meta",
    "The Llama 3 Herd of Models": "Meta", "XGen-7B Technical Report": "Salesforce",
    "Baichuan 2: Open Large-scale Language Models": "Baichuan", "Textbooks Are All You Need II: phi-1.5 technical report": "Microsoft",
    "Phi-3 Technical Report: A Highly Capable Language Model Locally on Your Phone": "Microsoft", "Phi-4 Technical Report": "Microsoft",
    "Nemotron-4 15B Technical Report": "NVIDIA", "Gemma: Open Models Based on Gemini Research and Technology": "Google",
    "Falcon2-11B Technical Report": "TII", "Falcon2-11B Technical ReportFalcon2-11B Technical Report": "TII",
    "The Falcon Series of Open Language Models": "TII", "GLaM: Efficient Scaling of Language Models with Mixture-of-Experts": "Google",
    "DeepSeek-V3 Technical Report": "DeepSeek", "Mixtral of Experts": "Mistral",
    "Using DeepSpeed and Megatron to Train Megatron-Turing NLG 530B, A Large-Scale Generative Language Model": "Microsoft/NVIDIA",
    "PaLM 2 Technical Report": "Google", "PaLM: Scaling Language Modeling with Pathways": "Google", "GPT-4 Technical Report": "OpenAI",
    "GPT-4 technical report": "OpenAI", "GPT-4 Technical report": "OpenAI", "Language Models are Few-Shot Learners": "OpenAI",
    "Training Compute-Optimal Large Language Models": "Google",
    "Scaling Language Models: Methods, Analysis & Insights from Training Gopher": "Google",
    "": None,  # no Source: provenance unknown (see add_source_kind)
}
HARNESS_KIND = {  # harness id -> source_kind (None: decided per row, see kind_of)
    "obsscaling-lm-eval": "harness", "obsscaling-evalplus": "harness", "open-llm-leaderboard-v2": "harness",
    "obsscaling-from-report": "developer", "epoch-external": None, "epoch-open-model-trends": None, "ultraeval-minicpm": None,
    "llama2-paper-table3": None, "model-card": None, "tech-report": None,
}
# variants that are not a family's main benchmark are kept only with enough scores to be estimated and linked
VARIANT_MIN_SCORES, VARIANT_MIN_MODELS, VARIANT_MIN_LINKED = 4, 4, 2

EXT_BENCH = {  # external_benchmark_<key>.csv -> (benchmark, score column)
    "mmlu": ("MMLU", "EM"), "bbh": ("BBH", "Average"), "gsm8k": ("GSM8K", "EM"),
    "hellaswag": ("HellaSwag", "Overall accuracy"), "winogrande": ("Winogrande", "Accuracy"),
    "arc_ai2": ("ARC-C", "Challenge score"),
}


def cite(rel: str) -> str:
    """'repo path @ commit' for a raw file given by its path under data/raw."""
    name = rel.split("/", 1)[1]
    if rel.startswith("obsscaling/"):
        return f"ryoungj/ObsScaling eval_results/{name} @ {OBS_COMMIT}"
    if rel == ALLML:
        return f"epoch-research/open-model-trends {name} @ {ALLML_COMMIT}"
    if rel == BENCH:
        return f"epoch-research/open-model-trends {name} @ {BENCH_COMMIT}"
    if rel.startswith("epoch_benchmark_stitching/"):
        new = name in ("external_benchmark_mmlu.csv", "model_versions.csv", "benchmarks_runs.csv")
        commit = "40f3eb31cca233b8e1fba3c96fa34d1e5b89d397" if name == "distilled_models.csv" else STITCH_NEW if new else STITCH_OLD
        return f"epoch-research/benchmark-stitching data/{name} @ {commit}"
    if rel == CHIN:
        return f"epoch-research/analyzing-chinchilla data/{name} @ {CHIN_COMMIT}"
    return f"bayes-density raw {rel}"


# ------------------------------------------------------------------ log
class Log:
    COLS = ["table", "name", "column", "old_value", "new_value", "reason", "source"]

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, table, name, column, old, new, reason, source):
        self.rows.append(dict(table=table, name=str(name), column=str(column), old_value=fmt(old),
                              new_value=fmt(new), reason=reason, source=source))


def fmt(v) -> str:
    """Deterministic text for a cell: empty for missing, shortest round-trip for floats."""
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v == int(v) and abs(v) < 1e15:
            return str(int(v)) if abs(v) < 1e6 else repr(v)
        return repr(v)
    if isinstance(v, bool):
        return "True" if v else "False"
    return str(v)


def pct(text: str) -> float:
    m = re.fullmatch(r"\s*([0-9.]+)\s*%\s*", str(text))
    if not m:
        raise ValueError(f"not a percent string: {text!r}")
    return round(float(m.group(1)) / 100.0, 8)  # round away binary artefacts (77.0% -> 0.77)


def shots_of(text) -> int | None:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    m = re.match(r"\s*(\d+)", str(text))
    return int(m.group(1)) if m else None


def read_curation(name: str) -> pd.DataFrame:
    return pd.read_csv(CURATION / name, dtype=str, keep_default_na=False)


def read_transcribed(raw: Path, rel: str, log: Log) -> pd.DataFrame:
    """Read a transcribed csv whose unquoted source_location may contain a comma
    ('markdown rendering, text id ...'): the extra field is joined back into source_location (logged)."""
    with open(raw / rel, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    n, i = len(head), head.index("source_location")
    fixed, out = 0, []
    for r in body:
        extra = len(r) - n
        if extra > 0:
            r = r[:i] + [",".join(r[i:i + 1 + extra])] + r[i + 1 + extra:]
            fixed += 1
        elif extra < 0:
            raise SystemExit(f"{rel}: row with {len(r)} fields: {r[:2]}")
        out.append(r)
    if fixed:
        log.add("scores" if rel == TR else "targets", "*", "source_location", f"{fixed} rows with {n + 1} fields", f"{n} fields",
                "unquoted comma in source_location ('markdown rendering, text id ...'): extra field joined back", cite(rel))
    return pd.DataFrame(out, columns=head)


# ------------------------------------------------------------------ name map
class NameMap:
    def __init__(self, raw: Path, log: Log):
        nm = read_curation("name_map.csv")
        self.rows = nm
        self.map: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.note: dict[tuple[str, str], str] = {}
        for r in nm.itertuples():
            self.map[(r.source_file, r.source_name)].append(r.name)
            if r.note:
                self.note[(r.source_file, r.source_name)] = r.note
        # benchmarks_runs.csv holds only Epoch's own runs of chat/frontier models: every id maps to no model
        for m in sorted(pd.read_csv(raw / RUNS, encoding="utf-8-sig").model.unique()):
            self.map[(RUNS, m)] = [""]
        # the four ObsScaling files use the same Hugging Face ids: reuse the main file's rows
        if (raw / T25_LONG).exists():  # the 2025 long file uses the wide file's model names
            for i in pd.read_csv(raw / T25_LONG, dtype=str).model.unique():
                if (T25, i) not in self.map:
                    raise SystemExit(f"{T25_LONG}: {i!r} is not in name_map for {T25}")
                self.map[(T25_LONG, i)] = list(self.map[(T25, i)])
        for other in (OBS_SUB, OBS_LB2, OBS_EMERG):
            ids = pd.read_csv(raw / other).Model
            for i in ids:
                key = (OBS_MAIN, i)
                if key not in self.map:
                    raise SystemExit(f"{other}: {i!r} is not in name_map for {OBS_MAIN}")
                self.map[(other, i)] = list(self.map[key])
                if key in self.note:
                    self.note[(other, i)] = self.note[key]

    def get(self, source_file: str, source_name: str) -> list[str]:
        key = (source_file, source_name)
        if key not in self.map:
            raise SystemExit(f"raw name {source_name!r} of {source_file} is not in data/curation/name_map.csv")
        return [n for n in self.map[key] if n]

    def reason(self, source_file: str, source_name: str) -> str:
        return self.note.get((source_file, source_name), "")


# ------------------------------------------------------------------ scores
class Scores:
    def __init__(self, log: Log, nm: NameMap, known: set[str]):
        self.rows: list[dict] = []
        self.log, self.nm, self.known = log, nm, known
        self.contrib: dict[str, set[str]] = defaultdict(set)  # source_file -> raw names that gave >= 1 score
        self.explained: dict[str, set[str]] = defaultdict(set)  # source_file -> raw names with a logged drop
        excl = read_curation("score_exclusions.csv")
        self.excl = {(r.source_file, r.source_name, r.benchmark): (r.row_match, r.reason) for r in excl.itertuples()}

    def drop(self, source_file, raw_name, reason, column=""):
        self.log.add("name_map", raw_name, source_file, "", "", reason, cite(source_file))
        self.explained[source_file].add(raw_name)

    def add(self, source_file, raw_name, model, benchmark, score, shots, cot, harness, source, reporter=None):
        key = (source_file, raw_name, benchmark)
        if key in self.excl and self.excl[key][0] in source:
            self.log.add("scores", raw_name, source_file, f"{model} {benchmark} = {score:.4g}", "", self.excl[key][1], source)
            self.explained[source_file].add(raw_name)
            return
        if model not in self.known:
            raise SystemExit(f"{source_file}: {raw_name!r} maps to {model!r}, which is not in curation/models.csv")
        if not (0.0 <= score <= 1.0) or math.isnan(score):
            raise SystemExit(f"{source_file}: {raw_name} {benchmark} score {score} outside [0, 1]")
        self.rows.append(dict(model=model, benchmark=benchmark, score=score, shots=shots, cot=cot,
                              harness=harness, source=source, reporter=reporter))
        self.contrib[source_file].add(raw_name)


OBS_ITEMS = {"ARC-C": 1172, "HellaSwag": 10042, "Winograd": 1267, "GSM8K": 1319, "HumanEval": 164}  # benchmark_items.csv


def scores_obsscaling(raw: Path, sc: Scores, log: Log):
    main = pd.read_csv(raw / OBS_MAIN)
    # column -> (benchmark, shots, cot, harness, how the column was produced)
    cols = {
        "MMLU": ("MMLU", 5, False, "obsscaling-lm-eval", "Open LLM Leaderboard v1 (lm-eval-harness), 5-shot"),
        "ARC-C": ("ARC-C", 25, False, "obsscaling-lm-eval", "Open LLM Leaderboard v1, 25-shot"),
        "HellaSwag": ("HellaSwag", 10, False, "obsscaling-lm-eval", "Open LLM Leaderboard v1, 10-shot"),
        "Winograd": ("Winogrande", 5, False, "obsscaling-lm-eval", "Open LLM Leaderboard v1 Winogrande, 5-shot"),
        "TruthfulQA": ("TruthfulQA", 0, False, "obsscaling-lm-eval", "Open LLM Leaderboard v1 TruthfulQA MC2, 0-shot"),
        "GSM8K": ("GSM8K", 5, None, "obsscaling-lm-eval", "Open LLM Leaderboard v1, 5-shot"),
        "HumanEval": ("HumanEval", 0, None, "obsscaling-evalplus", "EvalPlus pass@1 (ObsScaling README); some values copied from reports (MANIFEST)"),
    }
    log.add("scores", "*", "Winograd", "Winograd", "Winogrande",
            "ObsScaling's 'Winograd' column is the Open LLM Leaderboard v1 Winogrande task: the ObsScaling README collects "
            "MMLU, ARC-C, HellaSwag, Winograd and TruthfulQA from the Open LLM Leaderboard (v1 tasks: ARC 25-shot, HellaSwag 10-shot, "
            "MMLU 5-shot, TruthfulQA 0-shot, Winogrande 5-shot, GSM8K 5-shot) and the same repo's instruct_llm_benchmark_eval.csv "
            "names the column 'Winogrande'; 145 of 148 values are multiples of 1/1267 (Winogrande validation size). XWinograd is a different benchmark",
            f"ryoungj/ObsScaling README.md and eval_results/instruct_llm_benchmark_eval.csv @ {OBS_COMMIT}; "
            "Open LLM Leaderboard v1 task list e.g. https://huggingface.co/Corianas/256_5epoch/blob/main/README.md")
    log.add("scores", "*", "XWinograd", "", "", "XWinograd (multilingual Winograd) is not one of the analysed benchmarks: column skipped", cite(OBS_MAIN))
    copied = []
    for r in main.itertuples(index=False):
        rid = r.Model
        models = sc.nm.get(OBS_MAIN, rid)
        if not models:
            sc.drop(OBS_MAIN, rid, sc.nm.reason(OBS_MAIN, rid))
            continue
        for col, (bench, shots, cot, harness, how) in cols.items():
            v = r[main.columns.get_loc(col)]
            if pd.isna(v):
                continue
            v = float(v)
            h, extra = harness, ""
            n = OBS_ITEMS.get(col)
            if v != 0 and abs(v * 1000 - round(v * 1000)) < 1e-9 and (n is None or abs(v * n - round(v * n)) > 1e-6):
                # a 3-decimal value that is not k/n for the benchmark's item count: copied from a report, not a harness run
                h, extra = "obsscaling-from-report", "; 3-decimal value that is not a whole number of items: copied from a technical report (MANIFEST), not ObsScaling's own run"
                copied.append((rid, col, v))
            for m in models:
                sc.add(OBS_MAIN, rid, m, bench, v, shots, cot, h,
                       f"{cite(OBS_MAIN)} (Model {rid}, column {col}; {how}{extra})")
    for rid, col, v in copied:
        log.add("scores", ";".join(sc.nm.get(OBS_MAIN, rid)), col, v, v, "ObsScaling value with 3 decimals that is not a whole number of "
                "items: copied from a report (MANIFEST quirk); kept with harness 'obsscaling-from-report'", cite(OBS_MAIN))
    # the sub-10B file must be an exact subset of the main file
    sub = pd.read_csv(raw / OBS_SUB).set_index("Model")
    ref = main.set_index("Model")
    for rid in sub.index:
        a, b = sub.loc[rid], ref.loc[rid]
        same = all((pd.isna(a[c]) and pd.isna(b[c])) or a[c] == b[c]
                   or (isinstance(a[c], float) and abs(a[c] - b[c]) < 1e-12) for c in sub.columns)
        if not same:
            raise SystemExit(f"{OBS_SUB}: row {rid} differs from {OBS_MAIN}")
        sc.drop(OBS_SUB, rid, f"exact duplicate of the {OBS_MAIN} row (checked at build time): scores taken from that file"
                + (f"; {sc.nm.reason(OBS_MAIN, rid)}" if not sc.nm.get(OBS_MAIN, rid) else ""))
    # leaderboard v2
    lb = pd.read_csv(raw / OBS_LB2)
    lbcols = {"leaderboard_bbh": ("BBH-MC", 3, False, "Open LLM Leaderboard v2 BBH (3-shot, multiple-choice scoring over 5,761 items)"),
              "leaderboard_math_hard": ("MATH-L5", 4, None, "Open LLM Leaderboard v2 MATH Lvl 5 (4-shot)"),
              "leaderboard_mmlu_pro": ("MMLU-Pro", 5, False, "Open LLM Leaderboard v2 MMLU-PRO (5-shot)"),
              "leaderboard_gpqa": ("GPQA", 0, False, "Open LLM Leaderboard v2 GPQA (0-shot; diamond+main+extended pooled)")}
    log.add("scores", "*", "leaderboard_bbh", "BBH", "BBH-MC", "Open LLM Leaderboard v2 BBH is multiple-choice log-likelihood scoring of "
            "24 subtasks (5,761 items, chance floor > 0), not the papers' 3-shot CoT exact match over 6,511 items: labelled as its own variant BBH-MC",
            "data/curation/benchmark_variants.csv row 'BBH-MC'; data/curation/bbh_mc_subtasks.csv")
    for c in ("leaderboard_ifeval", "leaderboard_musr"):
        log.add("scores", "*", c, "", "", "IFEval / MuSR are not among the analysed benchmarks: column skipped", cite(OBS_LB2))
    log.add("scores", "*", "leaderboard_*", "", "", "raw accuracies (not the leaderboard's normalised scores), kept as fractions; "
            "shots per the leaderboard's own labels: BBH (3-Shot), MATH Lvl 5 (4-Shot), GPQA (0-shot), MMLU-PRO (5-shot)",
            "Open LLM Leaderboard v2 result cards, e.g. https://huggingface.co/Quazim0t0/Vine-14b-sce (docs corpus)")
    for r in lb.itertuples(index=False):
        rid = r.Model
        models = sc.nm.get(OBS_LB2, rid)
        if not models:
            sc.drop(OBS_LB2, rid, sc.nm.reason(OBS_LB2, rid))
            continue
        for col, (bench, shots, cot, how) in lbcols.items():
            v = r[lb.columns.get_loc(col)]
            if pd.isna(v):
                continue
            for m in models:
                sc.add(OBS_LB2, rid, m, bench, float(v), shots, cot, "open-llm-leaderboard-v2",
                       f"{cite(OBS_LB2)} (Model {rid}, column {col}; {how})")
    # emergent-capability tasks: not used
    for rid in pd.read_csv(raw / OBS_EMERG).Model:
        sc.drop(OBS_EMERG, rid, "BIG-bench-style emergent-capability tasks (word unscrambling, arithmetic, ...) are not among the "
                "analysed benchmarks: file not used for scores")


def scores_bench(raw: Path, sc: Scores, log: Log):
    b = pd.read_csv(raw / BENCH)
    log.add("scores", "*", "GPQA", "", "", "GPQA column of the Epoch benchmarks file skipped: its values are 'Epoch evaluation' runs "
            "whose model version (base vs chat) is not stated, and Epoch's own runs are of chat/frontier models (MANIFEST)", cite(BENCH))
    log.add("scores", "*", "HELM MMLU", "", "", "HELM MMLU column skipped: HELM evaluates instruct/chat versions for the listed open models "
            "(e.g. 'Qwen2 Instruct (72B)' 82.4 in external_benchmark_mmlu.csv equals this file's Qwen2-72B HELM MMLU 0.824)", cite(BENCH))
    log.add("scores", "*", "SEAL*/LMSys Elo", "", "", "SEAL scores and LMSys Elo are not benchmarks of this package: columns skipped", cite(BENCH))
    for r in b.itertuples(index=False):
        s = r.System
        models = sc.nm.get(BENCH, s)
        if not models:
            sc.drop(BENCH, s, sc.nm.reason(BENCH, s))
            continue
        got = False
        for col, bench in (("MMLU", "MMLU"), ("BBH", "BBH")):
            v = r[b.columns.get_loc(col)]
            if pd.isna(v):
                continue
            note = r[b.columns.get_loc(f"{col} Notes")]
            shots = shots_of(note) if isinstance(note, str) and "shot" in note else None
            src = f"{cite(BENCH)} (System '{s}', column {col}" + (f"; {col} Notes: {note}" if isinstance(note, str) else "") + ")"
            for m in models:
                sc.add(BENCH, s, m, bench, float(v), shots, None, "epoch-open-model-trends", src)
            got = True
        if not got and s not in sc.contrib[BENCH]:
            has_gpqa = not pd.isna(r.GPQA)
            sc.drop(BENCH, s, "only a GPQA value (Epoch evaluation, model version not stated), and that column is skipped"
                    if has_gpqa else "no MMLU/BBH value in this row")


def scores_external(raw: Path, sc: Scores, log: Log):
    for f in sorted(glob.glob(str(raw / "epoch_benchmark_stitching" / "external_benchmark_*.csv"))):
        rel = f"epoch_benchmark_stitching/{Path(f).name}"
        key = Path(f).stem.replace("external_benchmark_", "")
        bench, col = EXT_BENCH[key]
        d = pd.read_csv(f, encoding="utf-8-sig", dtype=str)
        log.add("scores", "*", col, "'77.0%'-style strings", "fractions",
                "Epoch external benchmark scores are percent strings: converted to fractions (value/100)", cite(rel))
        if key == "arc_ai2":
            log.add("scores", "*", "Easy score", "", "", "ARC-Easy is not an analysed benchmark: column skipped", cite(rel))
        for r in d.itertuples(index=False):
            name = r.Name.strip() if isinstance(r.Name, str) else f"[Model version] {r[d.columns.get_loc('Model version')]}"
            models = sc.nm.get(rel, name)
            note = sc.nm.reason(rel, name)
            if not models:
                if name not in sc.explained[rel]:
                    sc.drop(rel, name, note)
                continue
            val = r[d.columns.get_loc(col)]
            if not isinstance(val, str) or not val.strip():
                sc.log.add("scores", models[0], bench, "", "", f"row {r.id}: no {col} value (only ARC-Easy reported): row skipped", cite(rel))
                continue
            shots = shots_of(r.Shots)
            rep = r.Source if isinstance(r.Source, str) else ""
            notes = getattr(r, "Notes", "")
            notes = notes if isinstance(notes, str) else ""
            cot = True if re.search(r"\bCoT\b", notes) else None
            variant = "MMLU-CoT" if bench == "MMLU" and cot else bench
            if rep not in EPOCH_SOURCE_ORG:
                raise SystemExit(f"{rel}: no organisation for Source {rep!r} (EPOCH_SOURCE_ORG)")
            link = r[d.columns.get_loc("Source link")]
            src = f"{cite(rel)} (row {r.id}, Name '{name}'); reported in: {rep}" + (f" ({link})" if isinstance(link, str) else "")
            for m in models:
                sc.add(rel, name, m, variant, pct(val), shots, cot, "epoch-external", src + (f"; Notes: {notes.strip()}" if cot else ""),
                       reporter=EPOCH_SOURCE_ORG[rep])
            if note and name not in sc.explained[rel]:
                log.add("name_map", name, rel, "", ";".join(models), note, cite(rel))
                sc.explained[rel].add(name)


# settings of each transcribed source: doc prefix -> (harness, {benchmark: (shots, cot)})
TR_SETTINGS = [
    ("OpenBMB/MiniCPM README", "ultraeval-minicpm", {}),
    ("Touvron et al. 2023, Llama 2", "llama2-paper-table3", {"MMLU": (5, None), "BBH": (3, None)}),
    ("Meta Llama 3 model card", "model-card", {"MMLU": (5, None), "BBH": (3, True), "ARC-C": (25, None), "Winogrande": (5, None)}),
    ("Meta Llama 3.1 model card", "model-card", {"MMLU": (5, None), "MMLU-Pro": (5, True), "BBH": (3, True), "ARC-C": (25, None), "Winogrande": (5, None)}),
    ("Meta Llama 3.2 model card", "model-card", {"MMLU": (5, None), "ARC-C": (25, None)}),
    ("Jiang et al. 2023, Mistral 7B", "tech-report", {"MMLU": (5, None), "HumanEval": (0, None), "MBPP": (3, None), "MATH": (4, None),
                                                     "GSM8K": (8, None), "ARC-C": (0, None), "Winogrande": (0, None), "HellaSwag": (0, None)}),
    ("Gemma Team 2024, Gemma: Open Models", "tech-report", {"MMLU": (5, None), "HellaSwag": (0, None), "MBPP": (3, None), "MATH": (4, None)}),
    ("Gemma Team 2024, Gemma 2", "tech-report", {"MMLU": (5, None), "ARC-C": (25, None), "GSM8K": (5, None), "BBH": (3, True), "Winogrande": (5, None),
                                                "HellaSwag": (10, None), "MATH": (4, None), "MBPP": (3, None)}),
    ("Yang et al. 2024, Qwen2 Technical Report", "tech-report", {"MMLU": (5, None), "MMLU-Pro": (5, None), "GPQA": (5, None), "BBH": (3, None),
                                                                "HellaSwag": (10, None), "Winogrande": (5, None), "TruthfulQA": (0, None), "ARC-C": (25, None),
                                                                "HumanEval": (0, None), "MBPP": (0, None), "GSM8K": (5, None), "MATH": (4, None)}),
    ("Qwen Team 2024, Qwen2.5 Technical Report", "tech-report", {"MMLU": (5, None), "MMLU-Pro": (5, None), "GPQA": (5, None), "BBH": (3, None),
                                                                "HellaSwag": (10, None), "Winogrande": (5, None), "TruthfulQA": (0, None), "ARC-C": (25, None),
                                                                "HumanEval": (0, None), "MBPP": (0, None), "GSM8K": (4, None), "MATH": (4, None)}),
    ("NVIDIA Llama-3.1-Minitron", "model-card", {"MMLU": (5, None), "GSM8K": (0, None), "HellaSwag": (0, None), "Winogrande": (0, None), "ARC-C": (0, None)}),
]
# who ran each transcribed source's numbers, and per-benchmark variants that differ from the main one
TR_ORG = {"OpenBMB/MiniCPM README": "OpenBMB", "Touvron et al. 2023, Llama 2": "Meta", "Meta Llama 3 model card": "Meta",
          "Meta Llama 3.1 model card": "Meta", "Meta Llama 3.2 model card": "Meta", "Jiang et al. 2023, Mistral 7B": "Mistral",
          "Gemma Team 2024, Gemma: Open Models": "Google", "Gemma Team 2024, Gemma 2": "Google",
          "Yang et al. 2024, Qwen2 Technical Report": "Alibaba", "Qwen Team 2024, Qwen2.5 Technical Report": "Alibaba",
          "NVIDIA Llama-3.1-Minitron": "NVIDIA"}
TR_VARIANT = {  # doc prefix -> {benchmark: (variant, item count checked against the source's values or None, why)}
    "Jiang et al. 2023, Mistral 7B": {
        "MBPP": ("MBPP-sanitized", 257, "Mistral 7B paper: 'MBPP 3-shot (hand-verified subset)'"),
        "MATH": ("MATH-maj4", None, "Mistral 7B paper: 'MATH 4-shot maj@4'"),
        "GSM8K": ("GSM8K-maj8", None, "Mistral 7B paper: 'GSM8K 8-shot maj@8'")},
    "Yang et al. 2024, Qwen2 Technical Report": {
        "MBPP": ("MBPP-EvalPlus", 399, "Qwen2 report: MBPP 0-shot, i.e. the EvalPlus MBPP (base tests) the report uses for coding"),
        "GPQA": ("GPQA-Diamond", 198, "Qwen2 report: GPQA 5-shot, subset not stated")},
    "Qwen Team 2024, Qwen2.5 Technical Report": {
        "MBPP": ("MBPP-EvalPlus", 399, "Qwen2.5 report: MBPP 0-shot, i.e. the EvalPlus MBPP (base tests)"),
        "GPQA": ("GPQA-Diamond", 198, "Qwen2.5 report: GPQA 5-shot, subset not stated")},
}


def kn_fits(text: str, n: int) -> bool:
    """A percent printed with d decimals is k/n for some integer k (rounded or truncated to d decimals)."""
    t = str(text).strip()
    d = len(t.split(".")[1]) if "." in t else 0
    x, tol = float(t), 10.0 ** -d
    k = round(x * n / 100.0)
    return any(abs(100.0 * j / n - x) <= 0.5 * tol + 1e-9 or 0 <= 100.0 * j / n - x < tol for j in (k - 1, k, k + 1))


TR_COLS = {"MMLU": "MMLU", "BBH": "BBH", "MATH": "MATH", "HumanEval": "HumanEval", "MBPP": "MBPP", "GSM8K": "GSM8K",
           "MMLU_Pro": "MMLU-Pro", "ARC_C": "ARC-C", "HellaSwag": "HellaSwag", "Winogrande": "Winogrande",
           "TruthfulQA": "TruthfulQA", "GPQA": "GPQA"}


def scores_transcribed(raw: Path, sc: Scores, log: Log):
    d = read_transcribed(raw, TR, log)
    log.add("scores", "*", "MMLU..GPQA", "percent (0-100)", "fraction", "transcribed scores are percents: divided by 100", cite(TR))
    # variant of each (source, benchmark), checked against the number of items where the check can discriminate
    for doc, vmap in TR_VARIANT.items():
        for bench, (variant, n, why) in vmap.items():
            col = next(c for c, b in TR_COLS.items() if b == bench)
            vals = [v for v, sd in zip(d[col], d.source_doc) if v and sd.startswith(doc)]
            msg = f"{why}: relabelled {bench} -> {variant}"
            if n is not None:
                alt = {m: sum(kn_fits(v, m) for v in vals) for m in sorted({n, 500, 378, 399, 257, 198, 448, 546, 1192} - {n})}
                hit = sum(kn_fits(v, n) for v in vals)
                if hit < 0.6 * len(vals):
                    raise SystemExit(f"{TR}: {doc} {bench}: only {hit} of {len(vals)} values are k/{n}")
                msg += (f"; item-count check: {hit} of {len(vals)} printed values are k/{n} at the printed precision "
                        f"(other item counts: {', '.join(f'{m}: {c}' for m, c in alt.items())})")
            log.add("scores", doc, bench, bench, variant, msg, cite(TR))
    for r in d.itertuples(index=False):
        name = r.model
        models = sc.nm.get(TR, name)
        if not models:
            if name not in sc.explained[TR]:
                sc.drop(TR, name, sc.nm.reason(TR, name))
            continue
        setting = next((s for s in TR_SETTINGS if r.source_doc.startswith(s[0])), None)
        if setting is None:
            raise SystemExit(f"{TR}: no settings for source_doc {r.source_doc!r}")
        _, harness, shots_map = setting
        org = next(o for p, o in TR_ORG.items() if r.source_doc.startswith(p))
        vmap = next((v for p, v in TR_VARIANT.items() if r.source_doc.startswith(p)), {})
        src = (f"{r.source_doc}, {r.source_table} ({r.source_location}); settings: {r.eval_settings}"
               + (f"; flags: {r.flags}" if r.flags else "") + f"; transcribed in {cite(TR)}")
        for avg in ("code_avg_humaneval_mbpp", "math_avg_gsm8k_math"):
            v = getattr(r, avg)
            if v:
                log.add("scores", models[0], avg, v, "", "Llama 2 paper Table 3 'Code' and 'Math' are averages of two benchmarks "
                        "(HumanEval+MBPP, GSM8K+MATH): not usable as single-benchmark scores, skipped", src)
        for col, bench in TR_COLS.items():
            v = getattr(r, col)
            if not v:
                continue
            shots, cot = shots_map.get(bench, (None, None))
            variant = vmap.get(bench, (bench,))[0]
            reporter = org
            if r.source_doc.startswith("Gemma Team 2024, Gemma: Open Models") and name.startswith("Llama-2"):
                reporter = "Meta"  # eval_settings: 'Llama-2 numbers cited from Llama 2 paper'
            for m in models:
                sc.add(TR, name, m, variant, round(float(v) / 100.0, 8), shots, cot, harness, src, reporter=reporter)


# transcribed_2025: source doc prefix -> (harness id, organisation that ran it,
#   {benchmark as written in the long file: (variant or None to exclude, shots, cot, why)})
_Q3 = "Qwen in-house pipeline (Qwen3 report)"
T25_SETTINGS = [
    ("Qwen3 Technical Report", "tech-report", "Alibaba", {
        "MMLU": ("MMLU", 5, None, ""), "MMLU_Pro": ("MMLU-Pro", 5, True, ""), "BBH": ("BBH", 3, True, ""),
        "GPQA": ("GPQA-Diamond", 5, True, "subset not stated in the report; every value is k/198 (item-count check)"),
        "GSM8K": ("GSM8K", 4, True, ""), "MATH": ("MATH", 4, True, "full MATH: every value is k/5000, none k/500"),
        "MBPP": ("MBPP", 3, None, "'MBPP-3shot'; every value is k/500"),
        "EvalPlus": (None, 0, None, "EvalPlus = average of HumanEval, MBPP, HumanEval+ and MBPP+: not a single benchmark"),
        "MMLU-Redux": (None, 5, None, "MMLU-Redux: the printed values are not k/n for 3,000, 5,700 or 5,330 items consistently "
                       "(item set / averaging unknown)")}),
    ("Gemma 3 Technical Report", "tech-report", "Google", {
        "BBH": ("BBH", None, True, "Table 19: few-shot, CoT"), "MMLU": ("MMLU", 5, None, "char-len normalised scoring"),
        "MMLU_Pro": ("MMLU-Pro", 5, True, ""), "MATH": ("MATH", 4, True, ""), "GSM8K": ("GSM8K", 8, True, ""),
        "GPQA": ("GPQA-Diamond", 5, True, "report: GPQA Diamond"), "MBPP": ("MBPP", 3, None, ""), "HumanEval": ("HumanEval", 0, None, ""),
        "HellaSwag": ("HellaSwag", None, None, ""), "ARC-C": ("ARC-C", None, None, ""), "WinoGrande": ("Winogrande", None, None, "")}),
    ("Llama 4 model card", "model-card", "Meta", {
        "MMLU": ("MMLU", 5, None, "macro_avg/acc_char"), "MMLU_Pro": ("MMLU-Pro", 5, None, ""), "MATH": ("MATH", 4, None, "em_maj1@1"),
        "MBPP": ("MBPP", 3, None, "")}),
    ("DeepSeek-V3 README", "model-card", "DeepSeek", {
        "BBH": ("BBH", 3, None, "3-shot EM"), "MMLU": ("MMLU", 5, None, ""), "MMLU_Pro": ("MMLU-Pro", 5, None, ""),
        "HumanEval": ("HumanEval", 0, None, ""), "MBPP": ("MBPP", 3, None, ""), "GSM8K": ("GSM8K", 8, None, ""), "MATH": ("MATH", 4, None, ""),
        "ARC-Challenge (25-shot)": ("ARC-C", 25, None, ""), "HellaSwag (10-shot)": ("HellaSwag", 10, None, ""),
        "WinoGrande": ("Winogrande", None, None, ""), "MMLU-Redux": (None, None, None, "MMLU-Redux item set not stated")}),
    ("Kimi K2 README", "model-card", "Moonshot", {
        "MMLU": ("MMLU", 5, None, "5-shot EM"), "MMLU_Pro": ("MMLU-Pro", 5, None, ""),
        "GPQA": ("GPQA-Diamond", 5, None, "GPQA-Diamond 5-shot Avg@8"), "MATH": ("MATH", 4, None, ""), "GSM8K": ("GSM8K", 8, None, ""),
        "EvalPlus": (None, None, None, "EvalPlus average of four tests: not a single benchmark"),
        "MMLU-redux-2.0": (None, None, None, "MMLU-Redux-2.0: only 3 scores (Kimi K2's own pipeline), variant not estimable")}),
    ("OLMo 2 13B model card", "model-card", "AI2", {
        "MMLU": ("MMLU", None, None, "OLMES; shots/format not stated"), "GSM8K": ("GSM8K", None, None, ""), "MMLU_Pro": ("MMLU-Pro", None, None, ""),
        "ARC/C": ("ARC-C", None, None, ""), "HSwag": ("HellaSwag", None, None, ""), "WinoG": ("Winogrande", None, None, "")}),
    ("SmolLM3-3B model card", "model-card", "HuggingFace", {
        "MATH": ("MATH", 4, None, "HF lighteval"), "GSM8K": ("GSM8K", 5, None, "HF lighteval"),
        "HellaSwag": ("HellaSwag", 0, None, "lighteval, 0-shot"), "Winogrande": ("Winogrande", 0, None, "lighteval, 0-shot"),
        "HumanEval+": ("HumanEval+", 0, None, ""), "MBPP+": ("MBPP+", 0, None, "")}),
    ("Hunyuan-A13B README", "model-card", "Tencent", {
        "MMLU": ("MMLU", None, None, "shots/CoT not stated"), "BBH": ("BBH", None, None, ""), "MATH": ("MATH", None, None, ""),
        "MBPP": ("MBPP", None, None, ""), "GSM8K": ("GSM8K", None, None, ""), "MMLU_Pro": ("MMLU-Pro", None, None, ""),
        "GPQA": (None, None, None, "GPQA subset not stated and the values are not k/198, k/448 or k/1192"),
        "EvalPlus": (None, None, None, "EvalPlus average of four tests: not a single benchmark"),
        "MMLU-Redux": (None, None, None, "MMLU-Redux item set not stated")}),
    ("Tencent-Hunyuan-Large README", "model-card", "Tencent", {
        "MMLU": ("MMLU", None, None, "shots/CoT not stated"), "BBH": ("BBH", None, None, ""), "MATH": ("MATH", None, None, ""),
        "HumanEval": ("HumanEval", None, None, ""), "MBPP": ("MBPP", None, None, ""), "GSM8K": ("GSM8K", None, None, ""),
        "MMLU_Pro": ("MMLU-Pro", None, None, ""), "HellaSwag": ("HellaSwag", None, None, ""), "WinoGrande": ("Winogrande", None, None, ""),
        "ARC-C": ("ARC-C", None, None, "")}),
    ("'Welcome to the Falcon 3 Family", "model-card", "TII", {
        "MMLU": ("MMLU", None, None, "lm-evaluation-harness based, raw scores; shots not stated"), "MMLU_Pro": ("MMLU-Pro", None, None, ""),
        "MBPP": ("MBPP", None, None, ""), "GSM8K": ("GSM8K", None, None, ""),
        "BBH": (None, None, None, "BBH variant unknown: the blog's lm-evaluation-harness 'raw scores' (it also reports the leaderboard task "
                "MATH-Lvl5) may be the leaderboard's multiple-choice BBH-MC or the CoT BBH; shots not stated"),
        "MATH-Lvl5 (level-5 subset only)": ("MATH-L5", None, None, "the Open LLM Leaderboard v2 task name (lm-evaluation-harness based)")}),
    ("Mistral-Small-24B-Base-2501 model card", "model-card", "Mistral", {
        "MMLU": ("MMLU", 5, None, ""), "MMLU_Pro": ("MMLU-Pro", 5, True, ""), "GPQA": ("GPQA-Main", 5, True, "card: GPQA main"),
        "MBPP": ("MBPP", None, None, "pass@1"), "GSM8K": ("GSM8K", 5, None, "maj@1"), "ARC-c (0-shot)": ("ARC-C", 0, None, "")}),
]
T25_ITEMS = {"GSM8K": 1319, "MATH": 5000, "MBPP": 500, "HumanEval": 164, "GPQA-Diamond": 198, "GPQA-Main": 448, "MATH-L5": 1324,
             "HumanEval+": 164, "MBPP+": 378}


def scores_2025(raw: Path, sc: Scores, log: Log):
    """Base models released 2024-11 .. 2025-06 (transcribed_2025): every value of the long file that is one of our benchmarks."""
    if not (raw / T25_LONG).exists():
        log.add("scores", "*", T25_LONG, "", "", "transcribed_2025 files not found: no 2025 models", "")
        return
    wide = read_transcribed(raw, T25, log)
    settings = {(r.model, r.source_doc, r.source_table): r.eval_settings for r in wide.itertuples(index=False)}
    d = pd.read_csv(raw / T25_LONG, dtype=str, keep_default_na=False)
    log.add("scores", "*", "score", "percent (0-100)", "fraction", "transcribed_2025 scores are percents as printed: divided by 100", cite(T25_LONG))
    skipped, seen = set(), {}
    for r in d.itertuples(index=False):
        name = r.model
        models = sc.nm.get(T25_LONG, name)
        if not models:
            if name not in sc.explained[T25_LONG]:
                sc.drop(T25_LONG, name, sc.nm.reason(T25, name))
            continue
        st = next((x for x in T25_SETTINGS if r.source_doc.startswith(x[0])), None)
        if st is None:
            raise SystemExit(f"{T25_LONG}: no settings for source_doc {r.source_doc!r}")
        prefix, harness, org, bmap = st
        if r.benchmark not in bmap:
            if (prefix, r.benchmark) not in skipped:
                skipped.add((prefix, r.benchmark))
                log.add("scores", prefix, r.benchmark, "", "", f"{r.benchmark} is not one of the analysed benchmarks: values skipped", cite(T25_LONG))
            continue
        variant, shots, cot, why = bmap[r.benchmark]
        src = (f"{r.source_doc}, {r.source_table} ({r.source_location}); settings: {settings.get((name, r.source_doc, r.source_table), 'see transcribed_2025 README')}"
               + (f"; {why}" if why else "") + f"; transcribed in {cite(T25_LONG)}")
        if variant is None:
            log.add("scores", ";".join(models), r.benchmark, r.score, "", why + ": excluded", src)
            sc.explained[T25_LONG].add(name)
            continue
        n = T25_ITEMS.get(variant)
        if n and "." in r.score and len(r.score.split(".")[1]) >= 2 and not kn_fits(r.score, n):
            log.add("scores", ";".join(models), variant, r.score, "", f"item-count check failed: {r.score}% is not k/{n} at the printed "
                    f"precision, so the item set (or averaging) differs from {variant}: excluded", src)
            sc.explained[T25_LONG].add(name)
            continue
        v = round(float(r.score) / 100.0, 8)
        key = (models[0], variant, org, r.score.rstrip("0").rstrip("."))
        if key in seen:  # the same organisation re-printing its own number (Hunyuan-Large in the Hunyuan-A13B README)
            log.add("scores", models[0], variant, r.score, "", f"same value from the same organisation already taken from {seen[key]}: "
                    "re-quote not double-counted", src)
            sc.explained[T25_LONG].add(name)
            continue
        seen[key] = r.source_doc
        for m in models:
            sc.add(T25_LONG, name, m, variant, v, shots, cot, harness, src, reporter=org)


def scores_runs(raw: Path, sc: Scores):
    d = pd.read_csv(raw / RUNS, encoding="utf-8-sig")
    for m in sorted(d.model.unique()):
        sc.drop(RUNS, m, "Epoch's own runs (GPQA diamond, MATH level 5, FrontierMath, OTIS AIME, SWE-bench) of chat/frontier models "
                "(MANIFEST: no base models): file not used for scores")


# ------------------------------------------------------------------ models
def build_models(raw: Path, nm: NameMap, scored: set[str], log: Log) -> pd.DataFrame:
    reg = read_curation("models.csv")
    allml = pd.read_csv(raw / ALLML)
    allml["key"] = allml.System.str.strip()
    allml = allml.drop_duplicates("key").set_index("key")
    mv = pd.read_csv(raw / MV, encoding="utf-8-sig")
    mv["id"] = mv["id"].astype(str).str.strip()  # some ids carry a trailing space (e.g. "Llama-2-70b-hf ")
    mv = mv.drop_duplicates("id").set_index("id")
    bench = pd.read_csv(raw / BENCH).set_index("System")
    obs = pd.read_csv(raw / OBS_MAIN).set_index("Model")
    supp = pd.read_csv(raw / SUPP)
    dates_x = read_curation("release_dates_extra.csv").set_index("name")
    params_x = read_curation("params_extra.csv").set_index("name")
    tokens_x = read_curation("tokens_extra.csv").set_index("name")
    distilled = pd.read_csv(raw / DISTILLED).drop_duplicates("model").set_index("model")

    # reverse maps model -> raw rows (ObsScaling main file, Epoch benchmarks file, supplement)
    def rev(source_file):
        out = defaultdict(list)
        for (f, s), names in nm.map.items():
            if f == source_file:
                for n in names:
                    if n:
                        out[n].append(s)
        return out
    obs_of, bench_of, supp_of, t25_of = rev(OBS_MAIN), rev(BENCH), rev(SUPP), rev(T25)
    t25m = pd.read_csv(raw / T25_MODELS, dtype=str, keep_default_na=False).set_index("model") if (raw / T25_MODELS).exists() else None
    T25_TOKEN_NOTES = {"Llama-4": "tokens approximate ('~40T' / '~22T', Llama 4 card)",
                       "OLMo-2": "tokens = stage-1 pretraining only (plus 50B (7B) / 100B+300B (13B) stage-2 tokens, souped), OLMo 2 card",
                       "Gemma-3": "token budget includes image tokens (Gemma 3 report s2.2)",
                       "SmolLM3": "card says 11.2T (Training section: 11T)"}

    rows = []
    for r in reg.itertuples(index=False):
        name = r.name
        if name not in scored:
            log.add("models", name, "", "", "", "no score survived curation for this model: left out of models.csv", "data/curation/models.csv")
            continue
        if r.epoch_all_system and r.epoch_all_system not in allml.index:
            raise SystemExit(f"models.csv: {name}: Epoch All ML system {r.epoch_all_system!r} not found")
        if r.epoch_mv_id and r.epoch_mv_id not in mv.index:
            raise SystemExit(f"models.csv: {name}: model_versions id {r.epoch_mv_id!r} not found")
        a = allml.loc[r.epoch_all_system] if r.epoch_all_system else None
        v = mv.loc[r.epoch_mv_id] if r.epoch_mv_id else None
        brow = bench.loc[bench_of[name][0]] if bench_of.get(name) else None
        trow = t25m.loc[t25_of[name][0]] if (t25m is not None and t25_of.get(name)) else None
        t25src = f"{cite(T25_MODELS)} model '{t25_of[name][0]}'" if trow is not None else ""
        orow = obs.loc[obs_of[name][0]] if obs_of.get(name) else None
        notes = [r.notes] if r.notes else []
        if r.epoch_mv_id in distilled.index:
            dr = distilled.loc[r.epoch_mv_id]
            notes.append(f"Epoch distilled_models.csv: distilled={dr.distilled} (confidence {dr.confidence})")

        # ---- release date: override > transcribed supplement > Epoch All ML > Epoch model_versions > Epoch benchmarks file > fill
        cands = []
        if name in dates_x.index and dates_x.loc[name, "mode"] == "override":
            cands.append((dates_x.loc[name, "release_date"], dates_x.loc[name, "source"], "override"))
        for s in supp_of.get(name, []):
            sr = supp[supp.model == s].iloc[0]
            if "END OF TRAINING" in sr.date_type:
                continue  # not a release date (logged once below)
            cands.append((sr.release_date, f"{sr.source} ({sr.source_location}; {sr.date_type}); transcribed in {cite(SUPP)}", "supp"))
        if a is not None and isinstance(a["Publication date"], str):
            cands.append((a["Publication date"], f"{cite(ALLML)} System '{r.epoch_all_system}' Publication date", "allml"))
        if v is not None and isinstance(v["Version release date"], str):
            cands.append((v["Version release date"], f"{cite(MV)} id '{r.epoch_mv_id}' Version release date", "mv"))
        if brow is not None and isinstance(brow["Date"], str):
            cands.append((brow["Date"], f"{cite(BENCH)} System '{bench_of[name][0]}' Date", "bench"))
        if trow is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", trow.release_date):
            cands.append((trow.release_date, f"{t25src} release_date: {trow.release_date_source}", "t25"))
        elif trow is not None:
            raw_d = trow.release_date or "(blank)"
            if not (name in dates_x.index):
                log.add("models", name, "release_date", raw_d, "", "transcribed_2025 gives no day-level release date: not invented", t25src)
        if name in dates_x.index and dates_x.loc[name, "mode"] == "fill":
            cands.append((dates_x.loc[name, "release_date"], dates_x.loc[name, "source"] + " (looked up)", "fill"))
        if not cands:
            log.add("models", name, "release_date", "", "", "no release date in the raw files or curation tables: left out", "")
            continue
        date, date_src, kind = cands[0]
        if kind == "override":
            raw_c = [c for c in cands[1:] if c[2] != "fill"]
            log.add("models", name, "release_date", raw_c[0][0] if raw_c else "", date,
                    dates_x.loc[name, "note"] or "date replaced", date_src)
            date_src += " (override; raw value in curation_log.csv)"

        # ---- parameters: override > Epoch All ML > Epoch benchmarks file > ObsScaling > fill
        pc = []
        if name in params_x.index and params_x.loc[name, "params"] and params_x.loc[name, "mode"] == "override":
            pc.append((float(params_x.loc[name, "params"]), params_x.loc[name, "source"], "override"))
        if a is not None and not pd.isna(a["Parameters"]):
            pc.append((float(a["Parameters"]), f"{cite(ALLML)} System '{r.epoch_all_system}' Parameters", "allml"))
        if brow is not None and not pd.isna(brow["Model size (parameters)"]):
            pc.append((float(brow["Model size (parameters)"]), f"{cite(BENCH)} System '{bench_of[name][0]}' Model size (parameters)", "bench"))
        if orow is not None and not pd.isna(orow["Model Size (B)"]):
            pc.append((float(orow["Model Size (B)"]) * 1e9, f"{cite(OBS_MAIN)} Model '{obs_of[name][0]}' Model Size (B) x 1e9", "obs"))
        if trow is not None and trow.total_params_b:
            pc.append((float(trow.total_params_b) * 1e9, f"{t25src} total_params_b x 1e9 ({trow.params_tokens_source})", "t25"))
        if name in params_x.index and params_x.loc[name, "params"] and params_x.loc[name, "mode"] == "fill":
            pc.append((float(params_x.loc[name, "params"]), params_x.loc[name, "source"], "fill"))
            if "nominal" in params_x.loc[name, "note"]:
                notes.append("params: " + params_x.loc[name, "note"])
        if not pc:
            log.add("models", name, "params", "", "", "no parameter count in the raw files or curation tables: left out", "")
            continue
        params, p_src, pkind = pc[0]
        if pkind == "override":
            raw_p = [c for c in pc[1:] if c[2] != "fill"]
            log.add("models", name, "params", raw_p[0][0] if raw_p else "", params, params_x.loc[name, "note"] or "params replaced", p_src)
        # every other ObsScaling size that disagrees with the chosen value by > 25% is noted (not used)
        if orow is not None and not pd.isna(orow["Model Size (B)"]) and pkind != "obs":
            o = float(orow["Model Size (B)"]) * 1e9
            moe = "mixture of experts" in r.notes
            if (abs(o - params) / params > 0.25 or (moe and o != params)) and not (name in params_x.index and params_x.loc[name, "mode"] == "override"):
                log.add("models", name, "params", o, params, "ObsScaling Model Size differs from the chosen total; ObsScaling value not used"
                        + (" (MANIFEST quirk: ObsScaling MoE sizes are inconsistent; here it is neither clearly total nor active)" if moe and abs(o - params) / params <= 0.25 else
                           " (MoE: ObsScaling lists active, not total, parameters)" if moe else ""),
                        f"{cite(OBS_MAIN)} Model '{obs_of[name][0]}'")
        active = params
        a_src = "dense: active = total"
        if name in params_x.index and params_x.loc[name, "active_params"]:
            active = float(params_x.loc[name, "active_params"])
            a_src = params_x.loc[name, "source"]
            log.add("models", name, "active_params", params, active, "mixture of experts: active parameters per token differ from the total "
                    "(MANIFEST quirk: ObsScaling MoE sizes are inconsistent)", a_src)
        elif trow is not None and trow.architecture == "MoE" and trow.active_params_b:
            active = float(trow.active_params_b) * 1e9
            a_src = f"{t25src} active_params_b x 1e9 ({trow.params_tokens_source})"
        elif "mixture of experts" in r.notes:
            active = None
            a_src = "MoE: active parameters not stated in the raw files"
            log.add("models", name, "active_params", "", "", "mixture of experts with no sourced active-parameter count: left empty", "")

        # ---- tokens: override > ObsScaling > Epoch benchmarks file Dataset size > fill
        tc = []
        if name in tokens_x.index and tokens_x.loc[name, "mode"] == "override":
            tc.append((float(tokens_x.loc[name, "tokens"]), tokens_x.loc[name, "source"], "override"))
        if orow is not None and not pd.isna(orow["Pretraining Data Size (T)"]):
            tc.append((float(orow["Pretraining Data Size (T)"]) * 1e12, f"{cite(OBS_MAIN)} Model '{obs_of[name][0]}' Pretraining Data Size (T) x 1e12", "obs"))
        if brow is not None and not pd.isna(brow["Dataset size"]):
            tc.append((float(brow["Dataset size"]), f"{cite(BENCH)} System '{bench_of[name][0]}' Dataset size", "bench"))
        if trow is not None and trow.train_tokens_t:
            tc.append((float(trow.train_tokens_t) * 1e12, f"{t25src} train_tokens_t x 1e12 ({trow.params_tokens_source})", "t25"))
            if r.family in T25_TOKEN_NOTES:
                notes.append(T25_TOKEN_NOTES[r.family])
        if name in tokens_x.index and tokens_x.loc[name, "mode"] == "fill":
            tc.append((float(tokens_x.loc[name, "tokens"]), tokens_x.loc[name, "source"], "fill"))
        tokens, t_src = (None, "")
        if tc:
            tokens, t_src, tkind = tc[0]
            if tkind == "override":
                raw_t = [c for c in tc[1:] if c[2] != "fill"]
                log.add("models", name, "tokens", raw_t[0][0] if raw_t else "", tokens, tokens_x.loc[name, "note"] or "tokens replaced", t_src)
            if name in tokens_x.index and tokens_x.loc[name, "note"] and tkind == "fill":
                notes.append("tokens: " + tokens_x.loc[name, "note"])
        source = f"params: {p_src}" + (f"; active params: {a_src}" if active != params else "") + (f"; tokens: {t_src}" if tokens else "; tokens: not in the raw files")
        rows.append(dict(name=name, family=r.family, release_date=date, date_source=date_src, params=params,
                         active_params=active, tokens=tokens, base_or_instruct=r.base_or_instruct,
                         open_or_closed=r.open_or_closed, source=source, notes="; ".join(notes)))
    # one log row for the Minitron end-of-training date
    for s in supp.itertuples():
        if "END OF TRAINING" in s.date_type:
            log.add("models", ";".join(nm.get(SUPP, s.model)), "release_date", s.release_date, "",
                    "supplement gives an end-of-training date, not a release date: not used", f"{s.source} ({s.source_location})")
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ other tables
BBH_MC_SUBTASKS = "bbh_mc_subtasks.csv"


def bbh_mc_floor(log: Log) -> tuple[float, int, str]:
    """Item-weighted chance floor of the Open LLM Leaderboard v2 BBH: sum(n_i / k_i) / sum(n_i), k_i = the harness's scored choices."""
    t = read_curation(BBH_MC_SUBTASKS)
    n, k = t.n_items.astype(int), t.n_choices_scored.astype(int)
    floor = round(float((n / k).sum() / n.sum()), 4)
    why = (f"computed from data/curation/{BBH_MC_SUBTASKS} ({len(t)} subtasks, {int(n.sum())} items): "
           f"sum(n_i / k_i) / sum(n_i) with k_i = n_choices_scored = {floor}")
    log.add("benchmarks", "BBH-MC", "chance", "", floor, why, f"data/curation/{BBH_MC_SUBTASKS} (lm-evaluation-harness leaderboard/bbh_mc yaml files)")
    return floor, int(n.sum()), why


def build_benchmarks(used: set[str], log: Log) -> pd.DataFrame:
    b = read_curation("benchmark_items.csv")
    missing = used - set(b.name)
    if missing:
        raise SystemExit(f"benchmarks without an entry in curation/benchmark_items.csv: {sorted(missing)}")
    b = b[b.name.isin(used)].copy()
    if (b.name == "BBH-MC").any():
        floor, n, why = bbh_mc_floor(log)
        i = b.index[b.name == "BBH-MC"][0]
        if int(b.loc[i, "n_items"]) != n:
            raise SystemExit(f"BBH-MC: benchmark_items.csv says {b.loc[i, 'n_items']} items, {BBH_MC_SUBTASKS} sums to {n}")
        b.loc[i, "chance"] = str(floor)
        b.loc[i, "source"] = b.loc[i, "source"] + "; " + why
    fam = set(b.family)
    if not fam <= set(b.name):
        raise SystemExit(f"benchmark families without a main variant row: {sorted(fam - set(b.name))}")
    b["n_items"] = b.n_items.astype(int)
    b["chance"] = b.chance.astype(float)
    return b[["name", "n_items", "chance", "answer_type", "source", "family", "domain", "scoring"]]


def prune_variants(scores: pd.DataFrame, bitems: pd.DataFrame, log: Log) -> pd.DataFrame:
    """Drop variants (not a family's main benchmark) with too few scores / models / links to the main variant (logged)."""
    fam = scores.benchmark.map(bitems.family)
    if fam.isna().any():
        raise SystemExit(f"benchmarks without an entry in curation/benchmark_items.csv: {sorted(set(scores.benchmark[fam.isna()]))}")
    keep = pd.Series(True, index=scores.index)
    for v, g in scores.groupby("benchmark"):
        f = bitems.loc[v, "family"]
        if f == v:
            continue
        others = set(scores[(fam == f) & (scores.benchmark != v)].model)
        n, m, linked = len(g), g.model.nunique(), len(set(g.model) & others)
        ok = n >= VARIANT_MIN_SCORES and m >= VARIANT_MIN_MODELS and linked >= VARIANT_MIN_LINKED
        msg = (f"variant {v} of {f}: {n} scores on {m} models, {linked} of them also scored on another {f} variant "
               f"(needs >= {VARIANT_MIN_SCORES} / {VARIANT_MIN_MODELS} / {VARIANT_MIN_LINKED})")
        if ok:
            log.add("benchmarks", v, "family", "", f, msg + ": kept as its own variant", "data/curation/benchmark_items.csv")
            continue
        keep[g.index] = False
        for r in g.itertuples():
            log.add("scores", r.model, v, r.score, "", msg + ": too few to estimate, excluded (not merged into " + f + ")", r.source)
    return scores[keep].copy()


def add_source_kind(scores: pd.DataFrame, models: pd.DataFrame, log: Log) -> pd.DataFrame:
    """source_kind: harness (uniform third-party harness over many models), developer (the model's own developer),
    third_party (another organisation's pipeline)."""
    fam = models.set_index("name").family
    missing = set(fam[scores.model.unique()]) - set(FAMILY_ORG)
    if missing:
        raise SystemExit(f"families without an organisation in FAMILY_ORG: {sorted(missing)}")
    kinds = []
    for r in scores.itertuples():
        k = HARNESS_KIND[r.harness]
        if k is None and isinstance(r.reporter, str):
            k = "harness" if r.reporter == "harness" else "developer" if r.reporter == FAMILY_ORG[fam[r.model]] else "third_party"
        kinds.append(k)
    scores["source_kind"] = kinds
    # Epoch's open-model-trends compilation states no provenance per value: take the kind of an identical value
    # (same model, benchmark, 3 decimals) from a source whose provenance is known; otherwise third_party (Epoch compiled it)
    known = scores[scores.source_kind.notna()]
    ref = {}
    for r in known.sort_values(["model", "benchmark", "harness", "source"]).itertuples():
        ref.setdefault((r.model, r.benchmark, round(r.score, 3)), r.source_kind)
    matched = unmatched = 0
    for i in scores.index[scores.source_kind.isna()]:
        r = scores.loc[i]
        k = ref.get((r.model, r.benchmark, round(r.score, 3)))
        if k:
            matched += 1
        else:
            unmatched += 1
        scores.loc[i, "source_kind"] = k or "third_party"
    log.add("scores", "*", "source_kind", "epoch-open-model-trends", "", f"Epoch's compilation (and one Epoch external row with an empty Source) gives no per-value provenance: {matched} values "
            f"equal (to 3 decimals) a value of a known source for the same model and benchmark and take its source_kind; {unmatched} "
            "others are labelled third_party (compiled by Epoch, original evaluator unknown)", cite(BENCH))
    return scores


def build_targets(raw: Path, benchmarks: set[str], log: Log) -> pd.DataFrame:
    t = read_transcribed(raw, TARGETS, log)
    rows = []
    log.add("targets", "*", "score", "percent (0-100)", "fraction", "transcribed target scores are percents: divided by 100", cite(TARGETS))
    for r in t.itertuples(index=False):
        src = f"{r.source} ({r.source_location}); transcribed in {cite(TARGETS)}"
        if r.benchmark not in benchmarks:
            log.add("targets", r.model, r.benchmark, r.score, "", f"{r.benchmark} is not a benchmark of this package (no model scores): row dropped", src)
            continue
        rows.append(dict(target=r.model, benchmark=r.benchmark, score=round(float(r.score) / 100.0, 8),
                         shots=int(r.shots) if r.shots else None, source=src))
    return pd.DataFrame(rows)


def build_losses(raw: Path, log: Log) -> pd.DataFrame:
    d = pd.read_csv(raw / CHIN)
    d["tokens"] = d["Training FLOP"] / (6.0 * d["Model Size"])
    cut = sorted(d.loss)[-5]
    rows = []
    for i, r in d.iterrows():
        src = (f"{cite(CHIN)} row {i} (digitised from Hoffmann et al. 2022 Fig. 4; loss read from the colour bar, quantised; "
               f"tokens = Training FLOP / (6 x Model Size))")
        rows.append(dict(params=float(r["Model Size"]), tokens=float(r.tokens), loss=float(r.loss), source=src))
        if r.loss >= cut:
            log.add("losses", f"params={r['Model Size']:.6g}, tokens={r.tokens:.6g}", "loss", float(r.loss), float(r.loss),
                    "one of the 5 highest-loss points that the Epoch replication drops (its fit keeps losses < 5th-highest, n = 240); "
                    "row kept here, the model code decides",
                    f"epoch-research/analyzing-chinchilla data_analysis.ipynb @ {CHIN_COMMIT} ('nr_of_models_excluded = 5')")
    out = pd.DataFrame(rows)
    if out.duplicated(["params", "tokens"]).any():
        raise SystemExit("losses: duplicate (params, tokens)")
    return out


REFERENCE_SETS = {
    "llama": (["Llama-1-7B", "Llama-1-13B", "Llama-1-33B", "Llama-1-65B", "Llama-2-7B", "Llama-2-13B", "Llama-2-70B"],
              "Llama-1 and Llama-2 base models (DESIGN.md section 3: one recipe family at known (N, D), D0 = 1T inside the data): "
              "tokens 1.0T (Llama-1 7B/13B), 1.4T (33B/65B), 2.0T (Llama-2) from ObsScaling Pretraining Data Size, equal to the Epoch "
              "benchmarks_with_model_accessibility.csv Dataset size of the same models (1e12, 1.4e12, 2e12)"),
    "qwen2": (["Qwen2-0.5B", "Qwen2-1.5B", "Qwen2-7B", "Qwen2-72B"],
              "second reference set for the invariance test: Qwen2 dense models, one recipe, training tokens stated per size in the Qwen2 "
              "report Table 1 (12T/7T/7T/7T); best-covered family with known tokens: MMLU, ARC-C, HellaSwag, Winogrande, TruthfulQA, GSM8K, "
              "HumanEval (ObsScaling), BBH/MATH-L5/MMLU-Pro/GPQA (leaderboard v2) and MMLU/BBH/MATH/HumanEval/MBPP/GSM8K (Qwen2 and Qwen2.5 "
              "reports). Alternatives were weaker: Pythia/OPT sit near chance on MMLU, Falcon has 3 sizes with different token counts, and "
              "Qwen1.5 token counts are not stated by the developer in the sources found"),
}


def build_references(models: pd.DataFrame) -> pd.DataFrame:
    m = models.set_index("name")
    rows = []
    for s, (names, why) in REFERENCE_SETS.items():
        for n in names:
            if n not in m.index or pd.isna(m.loc[n, "params"]) or pd.isna(m.loc[n, "tokens"]):
                raise SystemExit(f"reference set {s}: {n} lacks params or tokens")
            rows.append(dict(set=s, model=n, source=why))
    return pd.DataFrame(rows)


def build_name_map(nm: NameMap) -> pd.DataFrame:
    rows = []
    for (f, s), names in nm.map.items():
        for n in names:
            rows.append(dict(source_file=f, source_name=s, name=n))
    reg = read_curation("models.csv")
    for r in reg.itertuples():
        if r.epoch_all_system:
            rows.append(dict(source_file=ALLML, source_name=r.epoch_all_system, name=r.name))
        if r.epoch_mv_id:
            rows.append(dict(source_file=MV, source_name=r.epoch_mv_id, name=r.name))
    out = pd.DataFrame(rows).drop_duplicates()
    return out.sort_values(["source_file", "source_name", "name"]).reset_index(drop=True)


# ------------------------------------------------------------------ output
def write(df: pd.DataFrame, path: Path, cols: list[str], sort: list[str]):
    df = df[cols].copy()
    df = df.sort_values(sort, kind="mergesort").reset_index(drop=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for row in df.itertuples(index=False):
            w.writerow([fmt(x) if not (isinstance(x, float) and math.isnan(x)) else "" for x in row])


PAPER5 = ("MMLU", "BBH", "MATH", "HumanEval", "MBPP")


def coverage(models: pd.DataFrame, scores: pd.DataFrame) -> dict:
    ok = models[(models.open_or_closed == "open") & (models.base_or_instruct == "base")
                & models.release_date.notna() & models.params.notna()]
    scored = set(scores.model)
    ok = ok[ok.name.isin(scored)]
    p5 = scores[scores.benchmark.isin(PAPER5)].groupby("model").benchmark.nunique()
    n3 = sum(p5.get(n, 0) >= 3 for n in ok.name)
    n5 = sum(p5.get(n, 0) >= 5 for n in ok.name)
    return {
        "models": len(models), "open_base_with_date_params_score": len(ok),
        "open_base_with_>=3_of_paper5": int(n3), "open_base_with_all_paper5": int(n5),
        "closed_models": int((models.open_or_closed == "closed").sum()),
        "instruct_models": int((models.base_or_instruct == "instruct").sum()),
        "scores": len(scores), "scores_by_benchmark": scores.benchmark.value_counts().sort_index().to_dict(),
        "scores_by_harness": scores.harness.value_counts().sort_index().to_dict(),
        "models_with_tokens": int(models.tokens.notna().sum()),
        "models_with_nominal_params_from_name": int(models.notes.fillna("").str.contains("nominal").sum()),
        "families": int(models.family.nunique()),
        "models_per_benchmark": scores.groupby("benchmark").model.nunique().sort_index().to_dict(),
        "repeated_values": (lambda g: f"{int((g > 1).sum())} (model, benchmark, score to 3 decimals) groups occur in more than one "
                            f"source row ({int(g[g > 1].sum())} rows): reports re-quote each other")(
                                scores.assign(r=scores.score.round(3)).groupby(["model", "benchmark", "r"]).size()),
        "release_date_range": f"{models.release_date.min()} .. {models.release_date.max()}",
    }


# ------------------------------------------------------------------ compressed models (derived_from)
DERIVATIONS = ("pruned", "distilled", "both")


def add_derived_from(models: pd.DataFrame) -> pd.DataFrame:
    """``derived_from`` (the parent's canonical name), ``derivation`` and its source, from
    ``data/curation/derived_from.csv`` (one sourced row per compressed model). Fails loudly on an
    unknown model, an unknown parent or an unknown derivation; a row whose model was left out of
    models.csv (no scores) is skipped."""
    d = read_curation("derived_from.csv")
    names = set(models.name)
    if d.name.duplicated().any():
        raise SystemExit(f"derived_from.csv: duplicate rows for {sorted(set(d.name[d.name.duplicated()]))}")
    known = set(read_curation("models.csv").name)
    for r in d.itertuples(index=False):
        if r.name not in known:
            raise SystemExit(f"derived_from.csv: {r.name!r} is not in curation/models.csv")
        if r.derived_from and r.derived_from not in names:
            raise SystemExit(f"derived_from.csv: {r.name}: parent {r.derived_from!r} is not in models.csv")
        if r.derivation not in DERIVATIONS:
            raise SystemExit(f"derived_from.csv: {r.name}: derivation {r.derivation!r} not one of {DERIVATIONS}")
        if not r.source:
            raise SystemExit(f"derived_from.csv: {r.name}: no source")
    d = d[d.name.isin(names)].rename(columns={"source": "derivation_source"}).set_index("name")
    out = models.copy()
    for col in ("derived_from", "derivation", "derivation_source"):
        out[col] = out.name.map(d[col]).fillna("")
    return out


# ------------------------------------------------------------------ domain specialists
SPECIALTIES = ("code", "math")


def add_specialty(models: pd.DataFrame) -> pd.DataFrame:
    """``specialty`` (the skill domain a family was trained to specialise in, e.g. code for
    CodeLlama) and its source, from ``data/curation/specialists.csv`` (one sourced row per
    family). Fails loudly on an unknown family or specialty, or a row without a source."""
    d = read_curation("specialists.csv")
    if d.family.duplicated().any():
        raise SystemExit(f"specialists.csv: duplicate rows for {sorted(set(d.family[d.family.duplicated()]))}")
    families = set(models.family)
    for r in d.itertuples(index=False):
        if r.family not in families:
            raise SystemExit(f"specialists.csv: family {r.family!r} is not in models.csv")
        if r.specialty not in SPECIALTIES:
            raise SystemExit(f"specialists.csv: {r.family}: specialty {r.specialty!r} not one of {SPECIALTIES}")
        if not r.source:
            raise SystemExit(f"specialists.csv: {r.family}: no source")
    d = d.set_index("family")
    out = models.copy()
    out["specialty"] = out.family.map(d["specialty"]).fillna("")
    out["specialty_source"] = out.family.map(d["source"]).fillna("")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, default=REPO.parent / "shared" / "data" / "raw", help="raw data folder (MANIFEST.md)")
    ap.add_argument("--out", type=Path, default=REPO / "data", help="output folder")
    args = ap.parse_args(argv)
    raw, out = args.raw, args.out
    if not (raw / "MANIFEST.md").exists():
        raise SystemExit(f"{raw}: no MANIFEST.md: pass --raw PATH")
    log = Log()
    nm = NameMap(raw, log)
    known = set(read_curation("models.csv").name)
    sc = Scores(log, nm, known)
    scores_obsscaling(raw, sc, log)
    scores_bench(raw, sc, log)
    scores_external(raw, sc, log)
    scores_transcribed(raw, sc, log)
    scores_2025(raw, sc, log)
    scores_runs(raw, sc)
    scores = pd.DataFrame(sc.rows)
    if scores.duplicated(["model", "benchmark", "source", "shots"]).any():
        dup = scores[scores.duplicated(["model", "benchmark", "source", "shots"], keep=False)]
        raise SystemExit(f"duplicate score keys:\n{dup.head()}")

    # every raw name of a score source either gave a score or has a logged reason
    for (f, s) in list(nm.map):
        if f in (TARGETS, DENSING, SUPP, T25):  # T25: its values are read from T25_LONG
            continue
        if s not in sc.contrib[f] and s not in sc.explained[f]:
            raise SystemExit(f"{f}: raw name {s!r} gave no score and no reason was logged")
    # mapped names whose note explains a Model version mismatch etc. are logged above; notes of mapped names in
    # ObsScaling/transcribed files are logged here
    for (f, s), names in sorted(nm.map.items()):
        note = nm.note.get((f, s), "")
        if note and any(names) and s in sc.contrib[f] and s not in sc.explained[f] and f not in (TARGETS,):
            log.add("name_map", s, f, "", ";".join(n for n in names if n), note, cite(f))

    models = build_models(raw, nm, set(scores.model), log)
    models = add_derived_from(models)
    models = add_specialty(models)
    scores = scores[scores.model.isin(set(models.name))]
    bitems = read_curation("benchmark_items.csv").set_index("name")
    scores = prune_variants(scores, bitems, log)
    scores = add_source_kind(scores, models, log)
    benchmarks = build_benchmarks(set(scores.benchmark), log)
    targets = build_targets(raw, set(benchmarks.name), log)
    losses = build_losses(raw, log)
    refs = build_references(models)
    name_map = build_name_map(nm)

    out.mkdir(parents=True, exist_ok=True)
    write(models, out / "models.csv", ["name", "family", "release_date", "date_source", "params", "active_params", "tokens",
                                       "base_or_instruct", "open_or_closed", "source", "notes", "derived_from", "derivation",
                                       "derivation_source", "specialty", "specialty_source"], ["name"])
    write(scores, out / "scores.csv", ["model", "benchmark", "score", "shots", "cot", "harness", "source", "source_kind"],
          ["model", "benchmark", "harness", "source", "shots"])
    write(benchmarks, out / "benchmarks.csv", ["name", "n_items", "chance", "answer_type", "source", "family", "domain", "scoring"], ["name"])
    write(targets, out / "targets.csv", ["target", "benchmark", "score", "shots", "source"], ["target", "benchmark", "source"])
    write(losses, out / "losses.csv", ["params", "tokens", "loss", "source"], ["params", "tokens"])
    write(refs, out / "references.csv", ["set", "model", "source"], ["set", "model"])
    write(name_map, out / "name_map.csv", ["source_file", "source_name", "name"], ["source_file", "source_name", "name"])
    logdf = pd.DataFrame(log.rows, columns=Log.COLS).drop_duplicates()
    write(logdf, out / "curation_log.csv", Log.COLS, ["table", "name", "column", "reason", "old_value", "new_value", "source"])

    cov = coverage(models, scores)
    print("coverage:")
    for k, v in cov.items():
        print(f"  {k}: {v}")
    return cov


if __name__ == "__main__":
    main()

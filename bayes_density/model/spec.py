"""Model specifications: one TOML file per analysis in ``models/``.

A spec says which data to use (benchmarks, reference set, filters), the trend
form, the loss-law mode, targets, prior overrides and sampler settings. The CLI
takes a spec by name (``models/NAME.toml``) or by path.

A spec may start from another: ``extends = "default"`` (a shipped name, or a file
next to this one) takes every setting of that spec and this file changes some, key
by key within each table (``[priors]`` too); a spec that extends another and sets no
``name`` is named after its file. ``models/specialists.toml`` is the default plus
three lines.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..constants import CHATGPT_RELEASE, PAPER_BENCHMARKS
from ..data.resources import specs_dir
from ..errors import SpecError
from .priors import PRIORS

TREND_FORMS = ("linear", "break", "changepoint")
CHAIN_STARTS = ("advi", "jitter")  # [sampler] init: bayes_density.inference.init


@dataclass(frozen=True)
class ModelSpec:
    """A declarative analysis: data selection, trend form, priors, sampler.

    Dates are ISO strings; ``d0`` is the token count (D0) at which effective
    sizes are defined; ``size`` chooses total or active parameters for MoE.
    """

    name: str = "default"
    description: str = ""
    # data selection
    benchmarks: tuple[str, ...] = PAPER_BENCHMARKS
    reference: str = "llama"
    open_only: bool = True
    base_only: bool = True
    min_scores: int = 1
    size: str = "total"
    since: str | None = None
    until: str | None = None
    # trend
    trend: str = "linear"
    frontier: bool = True
    # quantile frontier: f(t) is the q-quantile of log density at t (asymmetric Laplace
    # scatter); replaces the stochastic frontier (set frontier = false)
    quantile: float | None = None
    break_date: str = CHATGPT_RELEASE
    jump: bool = False
    changepoint_range: tuple[str, str] | None = None
    # measurement model (bayes_density.model docstring): variants of a selected benchmark
    # family to leave out; source-kind offsets on the link; per-model domain deviations
    exclude_variants: tuple[str, ...] = ()
    source_effects: bool = True
    domains: tuple[str, ...] = ("code", "math")
    domain_trends: bool = False
    learn_floors: bool = True
    # variants whose chance floor stays at its nominal value even with learn_floors: the data do
    # not reach it (no weak model scored there), so a learned floor only trades off with the link
    fixed_floors: tuple[str, ...] = ()
    # models flagged as specialists in a domain (models.csv ``specialty``, e.g. CodeLlama: code)
    # get a shared mean shift of their deviation in that domain (model.joint docstring)
    specialists: bool = False
    # score noise: a second, wide beta-binomial component for a small share of scores (outliers:
    # sources that disagree, contamination, typos), so that one precision per benchmark need not
    # stretch to cover them (model.joint docstring, "Score noise")
    robust_scores: bool = False
    # loss law
    d0: float = 1e12
    loss_mode: str = "joint"
    drop_highest_losses: int = 5
    # projection targets (closed models defined by their scores)
    targets: tuple[str, ...] = ("GPT-4",)
    # priors and sampler
    priors: dict = field(default_factory=dict)
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = 1
    # where chains start: "advi" (each chain at its own draw from a short mean-field ADVI fit;
    # bayes_density.inference.init) or "jitter" (the prior's support point + U(-1, 1), PyMC's and
    # nutpie's own start, which left chains stuck in warm-up at 1,000 simulated models)
    init: str = "advi"
    source: str = "<built-in>"

    def replace(self, **changes) -> "ModelSpec":
        """A copy with some fields changed (validated again)."""
        new = dataclasses.replace(self, **changes)
        new.validate()
        return new

    def validate(self) -> None:
        where = self.source
        if self.trend not in TREND_FORMS:
            raise SpecError(f"{where}: [trend] form = {self.trend!r}; choose one of {', '.join(TREND_FORMS)}")
        if self.size not in ("total", "active"):
            raise SpecError(f"{where}: [data] size = {self.size!r}; choose 'total' or 'active'")
        if self.loss_mode not in ("joint", "none"):
            raise SpecError(f"{where}: [loss] mode = {self.loss_mode!r}; choose 'joint' or 'none'")
        if not self.benchmarks:
            raise SpecError(f"{where}: [data] benchmarks is empty")
        if self.d0 <= 0:
            raise SpecError(f"{where}: [loss] D0 must be > 0, got {self.d0}")
        if self.quantile is not None:
            if isinstance(self.quantile, bool) or not isinstance(self.quantile, (int, float)) \
                    or not 0.5 <= float(self.quantile) < 1:
                raise SpecError(f"{where}: [trend] quantile = {self.quantile!r}; a number in [0.5, 1), e.g. 0.9")
            if self.frontier:
                raise SpecError(f"{where}: [trend] quantile = {self.quantile} is a frontier form of its own "
                                "(asymmetric Laplace); set frontier = false with it")
        if self.init not in CHAIN_STARTS:
            raise SpecError(f"{where}: [sampler] init = {self.init!r}; choose one of {', '.join(CHAIN_STARTS)}")
        if not isinstance(self.specialists, bool):
            raise SpecError(f"{where}: [measurement] specialists = {self.specialists!r}; true or false")
        if not isinstance(self.robust_scores, bool):
            raise SpecError(f"{where}: [measurement] robust_scores = {self.robust_scores!r}; true or false")
        if self.domain_trends and not self.domains:
            raise SpecError(f"{where}: [measurement] domain_trends = true needs domains (e.g. ['code', 'math'])")
        for key in ("draws", "tune", "chains", "min_scores"):
            if int(getattr(self, key)) < 1:
                raise SpecError(f"{where}: {key} must be >= 1, got {getattr(self, key)}")
        for key in ("since", "until", "break_date"):
            value = getattr(self, key)
            if value is not None and pd.isna(pd.to_datetime(value, errors="coerce")):
                raise SpecError(f"{where}: {key} = {value!r} is not a date (expected YYYY-MM-DD)")
        if self.changepoint_range is not None:
            lo, hi = (pd.to_datetime(v, errors="coerce") for v in self.changepoint_range)
            if pd.isna(lo) or pd.isna(hi) or not lo < hi:
                raise SpecError(f"{where}: changepoint_range = {self.changepoint_range!r}: two ISO dates, first < second")
        for name in self.priors:
            if name not in PRIORS:
                close = difflib.get_close_matches(name, PRIORS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise SpecError(f"{where}: [priors] unknown prior {name!r}{hint}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# TOML layout: section -> {toml key: ModelSpec field}
_LAYOUT = {
    None: {"name": "name", "description": "description"},
    "data": {
        "benchmarks": "benchmarks", "reference": "reference", "open_only": "open_only",
        "base_only": "base_only", "min_scores": "min_scores", "size": "size",
        "since": "since", "until": "until",
    },
    "trend": {
        "form": "trend", "frontier": "frontier", "quantile": "quantile", "break_date": "break_date", "jump": "jump",
        "changepoint_range": "changepoint_range",
    },
    "measurement": {
        "exclude_variants": "exclude_variants", "source_effects": "source_effects", "domains": "domains",
        "domain_trends": "domain_trends", "learn_floors": "learn_floors", "robust_scores": "robust_scores",
        "specialists": "specialists", "fixed_floors": "fixed_floors",
    },
    "loss": {"D0": "d0", "mode": "loss_mode", "drop_highest": "drop_highest_losses"},
    "target": {"names": "targets"},
    "sampler": {"draws": "draws", "tune": "tune", "chains": "chains", "seed": "seed", "init": "init"},
}


def models_dir() -> Path:
    """The shipped specs' folder (the repository's ``models/``; package data in a wheel)."""
    return specs_dir()


def available_specs() -> list[str]:
    return sorted(p.stem for p in models_dir().glob("*.toml"))


def _read_toml(path: Path, chain: tuple[Path, ...]) -> dict:
    """The TOML table of ``path`` with its ``extends`` parent's settings merged under it (recursively)."""
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from exc
    if "extends" not in raw:
        return raw
    parent_name = raw.pop("extends")
    if not isinstance(parent_name, str) or not parent_name:
        raise SpecError(f"{path}: extends = {parent_name!r}; the name of a shipped spec or a .toml path")
    candidates = [path.parent / parent_name, path.parent / f"{parent_name}.toml", models_dir() / f"{parent_name}.toml"]
    parent = next((c.resolve() for c in candidates if c.is_file()), None)
    if parent is None:
        raise SpecError(f"{path}: extends = {parent_name!r}: no such spec (looked next to this file and among "
                        f"the shipped specs: {', '.join(available_specs())})")
    here = path.resolve()
    if parent in chain + (here,):
        loop = " -> ".join(str(p) for p in chain + (here, parent))
        raise SpecError(f"{path}: extends loops back on itself ({loop})")
    merged = _read_toml(parent, chain + (here,))
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    if "name" not in raw:
        merged["name"] = path.stem
    return merged


def load_spec(name_or_path: str | Path | None = None) -> ModelSpec:
    """Load a spec by shipped name (``default``, ``mean``, ...) or by file path."""
    if name_or_path is None:
        name_or_path = "default"
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = models_dir() / f"{name_or_path}.toml"
        if not path.exists():
            raise SpecError(
                f"no model spec named {str(name_or_path)!r}; shipped specs: {', '.join(available_specs())} "
                "(or pass a path to a .toml file)"
            )
    if not path.exists():
        raise SpecError(f"{path}: file not found")
    raw = _read_toml(path, ())
    kwargs: dict = {"source": str(path)}
    for section, keys in _LAYOUT.items():
        block = raw if section is None else raw.get(section, {})
        if section is not None and not isinstance(block, dict):
            raise SpecError(f"{path}: [{section}] must be a table")
        unknown = set(block) - set(keys) - (set(_LAYOUT) - {None} if section is None else set()) - {"priors"}
        if unknown:
            raise SpecError(f"{path}: unknown key(s) {sorted(unknown)} in [{section or 'top level'}]; known: {sorted(keys)}")
        for tkey, fname in keys.items():
            if tkey in block:
                value = block[tkey]
                if isinstance(value, list):
                    value = tuple(value)
                kwargs[fname] = value
    if "priors" in raw:
        kwargs["priors"] = {k: list(v) if isinstance(v, list) else [v] for k, v in raw["priors"].items()}
    spec = ModelSpec(**kwargs)
    spec.validate()
    return spec

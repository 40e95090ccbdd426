"""From tidy tables to the arrays the model needs (the "design" of one fit).

:func:`prepare` applies a spec's data selection to a :class:`DensityData` and
returns :class:`ModelInputs`: index arrays and numbers only, so that the model
builder and the simulator share one representation. Times are in years from
``t0``; sizes are natural logs of counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..constants import DAYS_PER_YEAR
from ..data.schema import SOURCE_KINDS
from ..errors import SelectionError
from .spec import ModelSpec



def years_since(dates, t0) -> np.ndarray:
    """The date axis of the model: dates -> years since ``t0`` (whole days / DAYS_PER_YEAR).

    With :func:`dates_from_years`, the one conversion between model time and
    calendar dates; everything else (``ModelInputs``, ``Run``) calls these.
    """
    d = pd.to_datetime(pd.Series(np.atleast_1d(dates)))
    return ((d - pd.Timestamp(t0)).dt.days / DAYS_PER_YEAR).to_numpy(float)


def dates_from_years(years, t0) -> pd.DatetimeIndex:
    """Years since ``t0`` -> calendar dates, rounded to whole days."""
    days = np.round(np.asarray(years, float) * DAYS_PER_YEAR)
    return pd.Timestamp(t0) + pd.to_timedelta(days, unit="D")


@dataclass
class ModelInputs:
    """Everything the joint model conditions on, as numpy arrays.

    Units (index u) are the fitted models first (latent density), then the
    reference models (density fixed by their N, D), then the targets (latent
    effective size, no trend). Observations are (unit, benchmark, k, n).
    """

    models: list[str]
    references: list[str]
    targets: list[str]
    benchmarks: list[str]
    log_params: np.ndarray  # per fitted model, log parameter count
    t: np.ndarray  # per fitted model, years since t0
    ref_log_params: np.ndarray
    ref_log_tokens: np.ndarray
    ref_t: np.ndarray
    chance: np.ndarray  # per benchmark
    n_items: np.ndarray  # per benchmark
    obs_unit: np.ndarray
    obs_bench: np.ndarray
    obs_k: np.ndarray
    obs_n: np.ndarray
    t0: pd.Timestamp
    log_d0: float
    loss_log_params: np.ndarray = field(default_factory=lambda: np.zeros(0))
    loss_log_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0))
    loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    obs_harness: list[str] = field(default_factory=list)
    obs_source: list[str] = field(default_factory=list)
    release_dates: dict[str, pd.Timestamp] = field(default_factory=dict)
    # per benchmark, the typical score level (fraction of the way from chance to 1) at
    # which the link is parameterised; None: computed from the scores (typical_level)
    link_level: np.ndarray | None = None
    # ---- measurement model v2 (empty/None: one link per benchmark, no offsets, no domains) ----
    # benchmark families (a family's variants share a partially pooled link); per benchmark
    # (variant), the index of its family
    families: list[str] = field(default_factory=list)
    bench_family: np.ndarray | None = None
    # modelled skill domains (per-model deviations); per benchmark, index into domains, -1 = general
    domains: list[str] = field(default_factory=list)
    bench_domain: np.ndarray | None = None
    # source kinds present (kinds[0] is the reference kind, offset 0); per observation, index into kinds
    kinds: list[str] = field(default_factory=list)
    obs_kind: np.ndarray | None = None
    # per (non-reference kind, family): is the offset identified (models scored by that kind and
    # by the reference kind on one variant of the family)? Unidentified offsets are 0.
    offset_mask: np.ndarray | None = None
    # (units, domains) bool: the unit is a specialist in the domain (models.csv ``specialty``, with the
    # spec's [measurement] specialists); None: no specialists modelled
    specialist: np.ndarray | None = None
    # per benchmark: True where the chance floor stays nominal although floors are learned (spec
    # [measurement] fixed_floors); None: every floor learned
    floor_fixed: np.ndarray | None = None

    def specialist_domains(self) -> list[int]:
        """Indices of the domains with at least one specialist unit (each gets a mean shift)."""
        if self.specialist is None or not self.domains:
            return []
        return [k for k in range(len(self.domains)) if self.specialist[:, k].any()]

    def subset_models(self, keep: np.ndarray) -> "ModelInputs":
        """The same inputs with only the fitted models where ``keep`` is True (and their scores)."""
        import copy

        keep = np.asarray(keep, bool)
        new_index = np.cumsum(keep) - 1
        n_m = self.n_models
        obs_keep = (self.obs_unit >= n_m) | keep[np.minimum(self.obs_unit, n_m - 1)]
        unit_map = np.concatenate([new_index, np.arange(len(self.units) - n_m) + keep.sum()])
        out = copy.copy(self)
        out.models = [m for m, k in zip(self.models, keep) if k]
        if self.specialist is not None:
            out.specialist = self.specialist[np.concatenate([keep, np.ones(len(self.units) - n_m, bool)])]
        out.log_params, out.t = self.log_params[keep], self.t[keep]
        out.obs_unit = unit_map[self.obs_unit[obs_keep]]
        out.obs_bench, out.obs_k, out.obs_n = self.obs_bench[obs_keep], self.obs_k[obs_keep], self.obs_n[obs_keep]
        out.obs_harness = [h for h, k in zip(self.obs_harness, obs_keep) if k] if self.obs_harness else []
        out.obs_source = [h for h, k in zip(self.obs_source, obs_keep) if k] if self.obs_source else []
        if self.obs_kind is not None:
            out.obs_kind = self.obs_kind[obs_keep]
            out.offset_mask = offset_identified(out)
        return out

    def keep_observations(self, keep: np.ndarray) -> "ModelInputs":
        """The same units, benchmarks and layout with only the observations where ``keep`` is True.

        A change of data, not of model structure (one compiled model serves both). A unit
        or a benchmark left without observations keeps its parameters, which then follow
        their prior: integrating such a latent out leaves the posterior of everything else
        as it is without it. The link levels q*_b and the offset mask stay those of ``self``.
        """
        import copy

        keep = np.asarray(keep, bool)
        out = copy.copy(self)
        out.link_level = self.level()
        out.obs_unit, out.obs_bench = self.obs_unit[keep], self.obs_bench[keep]
        out.obs_k, out.obs_n = self.obs_k[keep], self.obs_n[keep]
        out.obs_harness = [h for h, k in zip(self.obs_harness, keep) if k] if self.obs_harness else []
        out.obs_source = [h for h, k in zip(self.obs_source, keep) if k] if self.obs_source else []
        if self.obs_kind is not None:
            out.obs_kind = self.obs_kind[keep]
        return out

    def obs_by_model(self) -> list[list[tuple[int, int, int, int]]]:
        """Per fitted model, its scores as (benchmark, k, n, source-kind index) tuples."""
        kinds = self.kind_of()
        per: list[list[tuple[int, int, int, int]]] = [[] for _ in range(self.n_models)]
        for u, b, k, n, kd in zip(self.obs_unit, self.obs_bench, self.obs_k, self.obs_n, kinds):
            if u < self.n_models:
                per[int(u)].append((int(b), int(k), int(n), int(kd)))
        return per

    # ---- measurement-model layout (defaults reproduce the one-link-per-benchmark model) ----
    def family_of(self) -> np.ndarray:
        """Per benchmark, the index of its family (each benchmark its own family by default)."""
        if self.bench_family is None:
            return np.arange(len(self.benchmarks))
        return np.asarray(self.bench_family, int)

    def family_names(self) -> list[str]:
        return list(self.families) if self.bench_family is not None else list(self.benchmarks)

    def variant_index(self) -> np.ndarray:
        """Benchmarks that are secondary variants of their family (not its first, primary one)."""
        fam = self.family_of()
        first = {f: b for b, f in reversed(list(enumerate(fam)))}
        return np.array([b for b, f in enumerate(fam) if first[f] != b], dtype=int)

    def floor_index(self, generated: bool = False) -> np.ndarray:
        """Benchmarks with a nominal chance floor above 0 (multiple choice), or of 0 (generated)."""
        chance = np.asarray(self.chance)
        learn = np.ones(len(chance), bool) if self.floor_fixed is None else ~np.asarray(self.floor_fixed, bool)
        return np.flatnonzero((chance == 0 if generated else chance > 0) & learn)

    def domain_of(self) -> np.ndarray:
        """Per benchmark, the index of its modelled domain, -1 for general capability."""
        if self.bench_domain is None or not self.domains:
            return np.full(len(self.benchmarks), -1)
        return np.asarray(self.bench_domain, int)

    def kind_of(self) -> np.ndarray:
        """Per observation, the index of its source kind (0 = the reference kind)."""
        if self.obs_kind is None or len(self.kinds) < 2:
            return np.zeros(self.n_obs, dtype=int)
        return np.asarray(self.obs_kind, int)

    def unit_t(self) -> np.ndarray:
        """Years since t0 of every unit (targets, which have no release date, at 0)."""
        return np.concatenate([self.t, self.ref_t, np.zeros(len(self.targets))])

    def level(self) -> np.ndarray:
        """q*_b: the link's parameterisation level per benchmark (see :func:`typical_level`)."""
        return typical_level(self) if self.link_level is None else np.asarray(self.link_level, float)

    @property
    def units(self) -> list[str]:
        return self.models + self.references + self.targets

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def n_obs(self) -> int:
        return len(self.obs_k)

    def x_centre(self) -> float:
        """Centre of the log-size axis: mean log params of fitted and reference models."""
        return float(np.mean(np.concatenate([self.log_params, self.ref_log_params])))

    def years(self, dates) -> np.ndarray:
        """Convert dates to years since t0."""
        return years_since(dates, self.t0)

    def date(self, years) -> pd.DatetimeIndex:
        """Convert years since t0 back to calendar dates."""
        return dates_from_years(years, self.t0)


def _size_column(spec: ModelSpec) -> str:
    return "active_params" if spec.size == "active" else "params"


def dedupe_requoted(scores: pd.DataFrame) -> pd.DataFrame:
    """Drop re-quotes: the same (model, benchmark, score to 3 decimals) from several sources.

    Reports copy each other's tables; counting a copied number twice would
    treat one measurement as two. Distinct values from different harnesses stay.
    """
    key = scores.assign(_s=scores["score"].round(3))
    return scores[~key.duplicated(subset=["model", "benchmark", "_s"], keep="first")]


def select_models(data, spec: ModelSpec) -> pd.DataFrame:
    """The models a spec uses (before counting scores): filters and dates applied."""
    m = data.models.copy()
    if spec.base_only:
        m = m[m["base_or_instruct"] == "base"]
    if spec.open_only:
        m = m[m["open_or_closed"] == "open"]
    if spec.since is not None:
        m = m[m["release_date"] >= pd.Timestamp(spec.since)]
    if spec.until is not None:
        m = m[m["release_date"] <= pd.Timestamp(spec.until)]
    size = _size_column(spec)
    sizes = m[size].where(m[size].notna(), m["params"])
    m = m.assign(size=sizes)
    return m[m["size"].notna() & m["release_date"].notna()]


LEVEL_RANGE = (0.1, 0.6)


def typical_level(inputs: ModelInputs) -> np.ndarray:
    """Per benchmark, the median score as a fraction of the way from chance to 1, to 2 decimals.

    The link is sampled at this level (:mod:`bayes_density.model`): where the
    benchmark's data are, so its location and slope there are pinned by the
    scores whatever the ceiling. Clipped to [0.1, 0.6] (a benchmark without
    scores, or scored mostly near chance or near its top, still gets a level
    that leaves room for the ceiling above it).
    """
    out = np.full(len(inputs.benchmarks), 0.35)
    for b in range(len(inputs.benchmarks)):
        sel = inputs.obs_bench == b
        if sel.any():
            frac = (inputs.obs_k[sel] / inputs.obs_n[sel] - inputs.chance[b]) / (1 - inputs.chance[b])
            out[b] = np.median(frac)
    return np.round(np.clip(out, *LEVEL_RANGE), 2)


def prepare(data, spec: ModelSpec) -> ModelInputs:
    """Select the data a spec asks for and index it for the model."""
    bench = data.benchmarks.set_index("name")
    benchmarks, family = select_benchmarks(bench, spec)
    scores = dedupe_requoted(data.scores[data.scores["benchmark"].isin(benchmarks)])

    refs = data.reference_models(spec.reference)
    ref_names = list(refs["model"])
    ref_rows = data.models.set_index("name").loc[ref_names]
    ref_scores = scores[scores["model"].isin(ref_names)]
    if ref_scores.empty:
        raise SelectionError(
            f"reference set {spec.reference!r} has no scores on the selected benchmarks {benchmarks}: "
            "it cannot pin the density scale"
        )

    cand = select_models(data, spec)
    cand = cand[~cand["name"].isin(ref_names)]
    counts = scores[scores["model"].isin(cand["name"])].groupby("model").size()
    keep = counts[counts >= spec.min_scores].index
    cand = cand[cand["name"].isin(keep)].sort_values(["release_date", "name"])
    if len(cand) < 3:
        raise SelectionError(
            f"spec {spec.name!r} selects {len(cand)} models with >= {spec.min_scores} scores on {benchmarks}"
            + (f" released on or before {spec.until}" if spec.until else "")
            + ": need at least 3 to fit a trend"
        )
    models = list(cand["name"])

    targets: list[str] = []
    target_scores = pd.DataFrame(columns=["target", "benchmark", "score"])
    if spec.targets:
        t_all = data.targets
        known = sorted(t_all["target"].unique())
        for name in spec.targets:
            if name not in known:
                raise SelectionError(f"unknown target {name!r}; available targets: {', '.join(known)}")
            rows = t_all[(t_all["target"] == name) & t_all["benchmark"].isin(benchmarks)]
            if rows.empty:
                # the target stays out of this fit; projections explain why
                continue
            targets.append(name)
        target_scores = t_all[t_all["target"].isin(targets) & t_all["benchmark"].isin(benchmarks)]

    units = models + ref_names + targets
    uidx = {u: i for i, u in enumerate(units)}
    bidx = {b: i for i, b in enumerate(benchmarks)}
    n_items = bench.loc[benchmarks, "n_items"].to_numpy(float)

    obs = pd.concat(
        [
            scores[scores["model"].isin(models + ref_names)].rename(columns={"model": "unit"}),
            target_scores.rename(columns={"target": "unit"}).assign(
                harness="reported", source_kind=_column(target_scores, "source_kind").fillna("developer")),
        ],
        ignore_index=True,
    )
    # a variant with no scores on the selected units cannot pin its own link: leave it out
    used = set(obs["benchmark"])
    if len(used) < len(benchmarks):
        benchmarks = [b for b in benchmarks if b in used]
        bidx = {b: i for i, b in enumerate(benchmarks)}
        n_items = bench.loc[benchmarks, "n_items"].to_numpy(float)
    obs_bench = obs["benchmark"].map(bidx).to_numpy(int)
    obs_n = n_items[obs_bench]
    obs_k = np.clip(np.round(obs["score"].to_numpy(float) * obs_n), 0, obs_n)

    all_dates = pd.concat([cand["release_date"], ref_rows["release_date"]])
    mean_date = all_dates.min() + (all_dates - all_dates.min()).mean()
    t0 = pd.Timestamp(year=mean_date.year, month=mean_date.month, day=1)

    def years(d):
        return years_since(d, t0)

    check_trend_support(spec, years(cand["release_date"]), cand["release_date"], years)

    inputs = ModelInputs(
        models=models,
        references=ref_names,
        targets=targets,
        benchmarks=benchmarks,
        log_params=np.log(cand["size"].to_numpy(float)),
        t=years(cand["release_date"]),
        ref_log_params=np.log(ref_rows["params"].to_numpy(float)),
        ref_log_tokens=np.log(ref_rows["tokens"].to_numpy(float)),
        ref_t=years(ref_rows["release_date"]),
        chance=bench.loc[benchmarks, "chance"].to_numpy(float),
        n_items=n_items,
        obs_unit=obs["unit"].map(uidx).to_numpy(int),
        obs_bench=obs_bench,
        obs_k=obs_k.astype(np.int64),
        obs_n=obs_n.astype(np.int64),
        t0=t0,
        log_d0=float(np.log(spec.d0)),
        obs_harness=list(obs.get("harness", pd.Series([""] * len(obs))).fillna("").astype(str)),
        obs_source=list(obs.get("source", pd.Series([""] * len(obs))).fillna("").astype(str)),
        release_dates={**dict(zip(cand["name"], cand["release_date"])),
                       **dict(zip(ref_names, ref_rows["release_date"]))},
    )
    _measurement_layout(inputs, spec, bench, family, obs)
    if spec.fixed_floors:
        inputs.floor_fixed = np.isin(np.asarray(benchmarks, dtype=object), list(spec.fixed_floors))
    if spec.specialists and inputs.domains:
        spec_of = data.models.set_index("name")["specialty"] if "specialty" in data.models else pd.Series(dtype=object)
        kinds = [spec_of.get(u) for u in models + ref_names] + [None] * len(targets)
        inputs.specialist = np.array([[k == d for d in inputs.domains] for k in kinds], bool).reshape(-1, len(inputs.domains))
    if spec.loss_mode == "joint":
        losses = data.losses.sort_values("loss")
        if spec.drop_highest_losses > 0:
            losses = losses.iloc[: len(losses) - spec.drop_highest_losses]
        inputs.loss_log_params = np.log(losses["params"].to_numpy(float))
        inputs.loss_log_tokens = np.log(losses["tokens"].to_numpy(float))
        inputs.loss = losses["loss"].to_numpy(float)
    inputs.link_level = typical_level(inputs)
    return inputs


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name`` of ``df`` as objects, empty (None) where the table lacks it."""
    if name in df:
        return df[name].astype(object).where(df[name].notna(), None)
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def benchmark_families(bench: pd.DataFrame) -> pd.Series:
    """Benchmark name -> family (a benchmark without a ``family`` is its own family)."""
    fam = _column(bench, "family")
    return pd.Series([f if f else name for name, f in zip(bench.index, fam)], index=bench.index)


def select_benchmarks(bench: pd.DataFrame, spec: ModelSpec) -> tuple[list[str], pd.Series]:
    """The benchmark variants a spec selects, and every benchmark's family.

    ``[data] benchmarks`` names families or single variants: a family name selects
    all its variants (the one named like the family first), e.g. ``BBH`` selects
    ``BBH`` (3-shot CoT exact match) and ``BBH-MC`` (the Open LLM Leaderboard v2's
    multiple-choice scoring). ``[measurement] exclude_variants`` leaves variants out.
    """
    family = benchmark_families(bench)
    known = set(bench.index) | set(family)
    unknown = [b for b in list(spec.benchmarks) + list(spec.exclude_variants) + list(spec.fixed_floors)
               if b not in known]
    if unknown:
        raise SelectionError(
            f"{spec.source}: [data] benchmarks {unknown} are not in benchmarks.csv; "
            f"available: {', '.join(bench.index)}"
        )
    out: list[str] = []
    for name in spec.benchmarks:
        members = [name] if name in bench.index and family[name] != name else \
            ([name] if name in bench.index else []) + [b for b in bench.index if family[b] == name and b != name]
        out += [b for b in members if b not in out and b not in spec.exclude_variants]
    if not out:
        raise SelectionError(f"{spec.source}: [measurement] exclude_variants leaves no benchmark to fit")
    return out, family


def masked(data, spec: ModelSpec, base: ModelSpec) -> ModelInputs:
    """``spec``'s selection as a mask on ``base``'s inputs: one model structure for many selections.

    ``base`` selects a superset of ``spec``'s benchmarks (the same reference set and
    every other setting); the result has ``base``'s units, benchmarks and layout, and
    only the scores ``spec`` would fit: those on ``spec``'s benchmark variants, of fitted
    models with at least ``spec.min_scores`` of them, of its reference models and of
    its targets. The other units and benchmarks keep their parameters, which follow
    their prior (:meth:`ModelInputs.keep_observations`): the posterior of the trend,
    the loss law and the selected links is that of ``prepare(data, spec)`` up to where
    t = 0 falls (``base``'s centre date), which moves the intercept, not the slope.
    """
    full = prepare(data, base)
    names, _ = select_benchmarks(data.benchmarks.set_index("name"), spec)
    keep_b = np.isin(np.asarray(full.benchmarks, dtype=object), names)
    keep = keep_b[full.obs_bench]
    n_m = full.n_models
    fitted = full.obs_unit < n_m
    counts = np.bincount(full.obs_unit[keep & fitted], minlength=n_m)
    keep &= ~fitted | (counts[np.minimum(full.obs_unit, n_m - 1)] >= spec.min_scores)
    return full.keep_observations(keep)


def _measurement_layout(inputs: ModelInputs, spec: ModelSpec, bench: pd.DataFrame, family: pd.Series,
                        obs: pd.DataFrame) -> None:
    """Fill the measurement model's layout: families, domains and source kinds."""


    fams = list(dict.fromkeys(family[b] for b in inputs.benchmarks))
    inputs.families = fams
    inputs.bench_family = np.array([fams.index(family[b]) for b in inputs.benchmarks], dtype=int)
    dom = _column(bench, "domain")
    bench_dom = [dom[b] for b in inputs.benchmarks]
    inputs.domains = [d for d in spec.domains if d in bench_dom]
    inputs.bench_domain = np.array([inputs.domains.index(d) if d in inputs.domains else -1 for d in bench_dom],
                                   dtype=int)
    kind = _column(obs, "source_kind").fillna("harness").to_numpy(object)
    present = [k for k in SOURCE_KINDS if k in set(kind)] if spec.source_effects else []
    inputs.kinds = present
    inputs.obs_kind = np.array([present.index(k) if k in present else 0 for k in kind], dtype=int)
    inputs.offset_mask = offset_identified(inputs)


#: models scored both by a kind and by the reference kind, on one variant, that identify an offset
MIN_OFFSET_OVERLAP = 3


def offset_identified(inputs: ModelInputs) -> np.ndarray:
    """(kinds - 1, families) bool: which source-kind offsets the data identify.

    An offset of kind s on family f is the shift of s's scores against the reference
    kind's on the same test, so it needs at least :data:`MIN_OFFSET_OVERLAP` models
    scored by both kinds on one variant of f. Elsewhere (e.g. BBH: chain-of-thought
    scores come only from reports, the harness scores only the multiple-choice variant)
    an offset would trade off against the variant's own link location; it is fixed at 0
    and the variant's location absorbs the level of the sources it has.
    """
    fam, n_k = inputs.family_of(), len(inputs.kinds)
    mask = np.zeros((max(n_k - 1, 0), len(inputs.family_names())), bool)
    kind = inputs.kind_of()
    for b in range(len(inputs.benchmarks)):
        sel = inputs.obs_bench == b
        ref_units = set(inputs.obs_unit[sel & (kind == 0)])
        for k in range(1, n_k):
            if len(ref_units & set(inputs.obs_unit[sel & (kind == k)])) >= MIN_OFFSET_OVERLAP:
                mask[k - 1, fam[b]] = True
    return mask


def check_trend_support(spec: ModelSpec, t: np.ndarray, dates: pd.Series, years) -> None:
    """A break needs models on both sides; a change-point range must lie inside the data."""
    span = f"the selected models span {dates.min().date()} to {dates.max().date()}"
    if spec.trend == "break":
        tb = float(years(pd.Series([pd.Timestamp(spec.break_date)]))[0])
        before, after = int(np.sum(t < tb)), int(np.sum(t >= tb))
        if before < 2 or after < 2:
            raise SelectionError(
                f"{spec.source}: [trend] break_date = {spec.break_date}: {before} model(s) before and {after} "
                f"after; a break needs at least 2 on each side ({span}). Use the 'linear' form, or a data "
                "selection that reaches back before the break (e.g. the mmlu_longrange spec)"
            )
    if spec.trend == "changepoint" and spec.changepoint_range is not None:
        lo, hi = (pd.Timestamp(v) for v in spec.changepoint_range)
        if lo < dates.min() or hi > dates.max():
            raise SelectionError(
                f"{spec.source}: [trend] changepoint_range = {list(spec.changepoint_range)} reaches outside the "
                f"data: {span}; the change point must have models on both sides"
            )

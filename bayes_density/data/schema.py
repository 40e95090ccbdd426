"""The tables bayes-density reads: their files, columns, types and keys.

This module is the single statement of the data schema. The shipped tables
in ``data/`` and a user's own CSVs follow it; :mod:`bayes_density.io` loads
and validates against it. Units: sizes are counts (parameters, tokens), not
billions; scores are fractions in [0, 1]; dates are ISO ``YYYY-MM-DD``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


#: who produced a score (scores.csv ``source_kind``); the first is the reference kind
SOURCE_KINDS = ("harness", "developer", "third_party")
#: skill domains a model can specialise in (models.csv ``specialty``)
SPECIALTIES = ("code", "math")

#: how a compressed model was made from its parent (models.csv ``derivation``)
DERIVATIONS = ("pruned", "distilled", "both")


@dataclass(frozen=True)
class Column:
    """One column of a table.

    kind: ``str``, ``float``, ``int``, ``bool`` or ``date``.
    required: the column must be present; ``nullable``: empty cells allowed.
    positive: values must be > 0; ``fraction``: values must lie in [0, 1].
    choices: allowed values (for categorical string columns).
    """

    name: str
    kind: str
    required: bool = True
    nullable: bool = False
    positive: bool = False
    fraction: bool = False
    choices: tuple[str, ...] | None = None
    doc: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    filename: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    doc: str = ""
    optional: bool = False
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))


MODELS = Table(
    "models",
    "models.csv",
    (
        Column("name", "str", doc="canonical model name; the key every other table joins on"),
        Column("family", "str", doc="model family (shared recipe), e.g. 'Llama-2'"),
        Column("release_date", "date", doc="first public release, day precision"),
        Column("date_source", "str", doc="where the release date comes from"),
        Column("params", "float", positive=True, doc="total parameters (count)"),
        Column("active_params", "float", nullable=True, positive=True,
               doc="parameters active per token (count); equals params for dense models"),
        Column("tokens", "float", nullable=True, positive=True, doc="pre-training tokens (count)"),
        Column("base_or_instruct", "str", choices=("base", "instruct"), doc="pre-trained base or tuned"),
        Column("open_or_closed", "str", choices=("open", "closed"), doc="weights released or not"),
        Column("source", "str", doc="where params/tokens come from (file @ commit, or paper + table)"),
        Column("notes", "str", required=False, nullable=True, doc="curation notes, fixes applied"),
        Column("derived_from", "str", required=False, nullable=True,
               doc="compressed models: the parent model's name (models.name) it was pruned/distilled from; "
                   "empty = trained from scratch, or the parent is not in the data"),
        Column("derivation", "str", required=False, nullable=True, choices=DERIVATIONS,
               doc="how a compressed model was made from its parent: pruned, distilled, or both; empty = not compressed"),
        Column("derivation_source", "str", required=False, nullable=True,
               doc="the document that states derived_from and derivation"),
        Column("specialty", "str", required=False, nullable=True, choices=SPECIALTIES,
               doc="the skill domain the model was trained to specialise in (code, math), e.g. code for "
                   "CodeLlama; empty = a general model. Specialists' domain deviations get a shared mean "
                   "shift (model/joint.py, 'Measurement model')"),
        Column("specialty_source", "str", required=False, nullable=True,
               doc="the document that states the specialty (technical report, model card)"),
    ),
    key=("name",),
    doc="one row per LLM",
)

SCORES = Table(
    "scores",
    "scores.csv",
    (
        Column("model", "str", doc="models.name"),
        Column("benchmark", "str", doc="benchmarks.name"),
        Column("score", "float", fraction=True, doc="accuracy as a fraction in [0, 1]"),
        Column("shots", "int", nullable=True, doc="number of in-context examples, if stated"),
        Column("cot", "bool", nullable=True, doc="chain-of-thought prompting, if stated"),
        Column("harness", "str", doc="evaluation pipeline or report, e.g. 'obsscaling', 'llama2-paper'"),
        Column("source", "str", doc="document + table, or file @ commit"),
        Column("source_kind", "str", required=False, nullable=True, choices=SOURCE_KINDS,
               doc="who produced the score: 'harness' (a uniform third-party harness run over many models, "
                   "the reference), 'developer' (the model's developer), 'third_party' (another "
                   "developer's or a paper's own pipeline); empty = 'harness'"),
    ),
    key=("model", "benchmark", "source", "shots"),
    doc="long table, one row per (model, benchmark, source); several sources per pair are kept",
)

BENCHMARKS = Table(
    "benchmarks",
    "benchmarks.csv",
    (
        Column("name", "str"),
        Column("n_items", "int", positive=True, doc="number of test items"),
        Column("chance", "float", fraction=True,
               doc="score of random guessing (0.25 for 4-way multiple choice, 0 for generated answers)"),
        Column("answer_type", "str", choices=("multiple_choice", "generated", "two_way")),
        Column("source", "str", doc="where n_items comes from"),
        Column("family", "str", required=False, nullable=True,
               doc="the benchmark this variant belongs to (e.g. 'BBH' for 'BBH-MC'); empty = its own name"),
        Column("domain", "str", required=False, nullable=True,
               doc="skill domain: knowledge, reasoning, math, code, commonsense; empty = general"),
        Column("scoring", "str", required=False, nullable=True,
               doc="how answers are scored, e.g. mc-loglik, exact-match-cot, pass@1"),
    ),
    key=("name",),
)

TARGETS = Table(
    "targets",
    "targets.csv",
    (
        Column("target", "str", doc="name of the target model (e.g. 'GPT-4'); needs no parameter count"),
        Column("benchmark", "str", doc="benchmarks.name"),
        Column("score", "float", fraction=True),
        Column("shots", "int", nullable=True),
        Column("source", "str"),
        Column("source_kind", "str", required=False, nullable=True, choices=SOURCE_KINDS,
               doc="as in scores.csv; empty = 'developer' (targets' scores come from their developers' reports)"),
    ),
    key=("target", "benchmark", "source"),
    doc="reported scores of projection targets",
)

LOSSES = Table(
    "losses",
    "losses.csv",
    (
        Column("params", "float", positive=True, doc="model parameters N (count)"),
        Column("tokens", "float", positive=True, doc="training tokens D (count)"),
        Column("loss", "float", positive=True, doc="final training loss (nats per token)"),
        Column("source", "str"),
    ),
    key=("params", "tokens"),
    doc="scaling-law points (N, D, loss) for the reference loss law",
)

REFERENCES = Table(
    "references",
    "references.csv",
    (
        Column("set", "str", doc="name of a reference set, chosen in the model spec"),
        Column("model", "str", doc="models.name; the model must have params and tokens"),
        Column("source", "str", doc="why this model belongs to the set"),
    ),
    key=("set", "model"),
    doc="reference families: density 1 at D0 by definition",
)

TABLES: dict[str, Table] = {t.name: t for t in (MODELS, SCORES, BENCHMARKS, TARGETS, LOSSES, REFERENCES)}

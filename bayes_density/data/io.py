"""Load and validate the data tables described in :mod:`bayes_density.schema`.

Every table is read as text, then each cell is parsed and checked against its
:class:`~bayes_density.schema.Column` spec. The first problem found raises a
:class:`DataError` whose one-line message names the file, the data row (and
its line in the file) and the column, with a hint where one helps.
"""

from __future__ import annotations

import csv
import difflib
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .resources import shipped_data_dir
from .schema import TABLES, Column, Table

#: tables a user's data folder may leave out: they fall back to the shipped ones
USER_OPTIONAL = ("benchmarks", "targets", "losses", "references")
#: tables that must exist somewhere (user folder or shipped data)
ALWAYS_REQUIRED = ("models", "scores", "benchmarks")
#: cross-table links: (table, column) must name a row of (table, column)
LINKS = (
    ("scores", "model", "models", "name"),
    ("scores", "benchmark", "benchmarks", "name"),
    ("targets", "benchmark", "benchmarks", "name"),
    ("references", "model", "models", "name"),
)
_MISSING = {"", "na", "n/a", "nan", "null", "none"}  # empty cells of non-text columns
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE, _FALSE = {"true", "t", "yes", "1"}, {"false", "f", "no", "0"}
_PANDAS3 = int(pd.__version__.split(".")[0]) >= 3


@dataclass(frozen=True, eq=False)
class DensityData:
    """All tables, typed. ``sources`` maps table name -> file it came from;
    ``notes`` says what was filled in or left out when user tables were mixed
    with the shipped ones."""

    models: pd.DataFrame
    scores: pd.DataFrame
    benchmarks: pd.DataFrame
    targets: pd.DataFrame
    losses: pd.DataFrame
    references: pd.DataFrame
    sources: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    _lines: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: reference models taken from the shipped data because the user's models.csv lacks them
    borrowed: tuple[str, ...] = ()

    def for_reference(self, set_name: str) -> "DensityData":
        """The data an analysis with reference set ``set_name`` uses: borrowed reference models of
        other sets (and their scores) are left out, so they do not join the user's fitted models."""
        keep_set = set(self.references.loc[self.references["set"] == set_name, "model"])
        drop = [m for m in self.borrowed if m not in keep_set]
        if not drop:
            return self
        import dataclasses

        return dataclasses.replace(
            self, models=self.models[~self.models["name"].isin(drop)].reset_index(drop=True),
            scores=self.scores[~self.scores["model"].isin(drop)].reset_index(drop=True),
            references=self.references[self.references["set"] == set_name].reset_index(drop=True),
            _lines={}, borrowed=tuple(m for m in self.borrowed if m in keep_set))

    @property
    def model_names(self) -> list[str]:
        return list(self.models["name"])

    @property
    def benchmark_names(self) -> list[str]:
        return list(self.benchmarks["name"])

    @property
    def reference_sets(self) -> list[str]:
        return list(dict.fromkeys(self.references["set"]))

    def reference_models(self, set_name: str) -> pd.DataFrame:
        """The rows of references.csv for one set (columns set, model, source)."""
        refs = self.references
        if set_name not in set(refs["set"]):
            sets = self.reference_sets
            close = _closest(set_name, sets)
            dropped = [n for n in self.notes if repr(set_name) in n and "reference set" in n]
            raise DataError(
                self.sources.get("references", "references.csv"), None, "set",
                f"unknown reference set {set_name!r} in references.csv"
                + (f"; did you mean {close!r}?" if close else "")
                + f" (available sets: {', '.join(sets) or 'none'})"
                + (f"; {dropped[0]}" if dropped else ""),
            )
        return refs[refs["set"] == set_name].reset_index(drop=True)


# ---------------------------------------------------------------- helpers


class _Bad(Exception):
    """A cell that fails its column spec (message without location)."""


def _closest(value, options) -> str | None:
    """The option closest to ``value``: same up to case/spaces/_/-, else difflib."""
    def norm(s):
        return re.sub(r"[\s_\-]+", "", str(s)).casefold()

    options = [o for o in dict.fromkeys(options) if isinstance(o, str)]
    for o in options:
        if norm(o) == norm(value):
            return o
    folded = {o.casefold(): o for o in options}
    match = difflib.get_close_matches(str(value).casefold(), list(folded), n=1, cutoff=0.6)
    return folded[match[0]] if match else None


def _parse(col: Column, raw: str):
    """Parse one cell; return a Python value (None for empty) or raise _Bad."""
    text = raw.strip()
    if col.kind == "str":
        value = raw if text else None  # text is kept exactly as written
    elif text.casefold() in _MISSING:
        value = None
    elif col.kind == "date":
        try:
            if not _DATE.fullmatch(text):
                raise ValueError
            value = date.fromisoformat(text)
        except ValueError:
            raise _Bad(f"{raw!r} is not a date; expected YYYY-MM-DD") from None
    elif col.kind == "bool":
        if text.casefold() not in _TRUE | _FALSE:
            raise _Bad(f"{raw!r} is not true/false")
        value = text.casefold() in _TRUE
    else:  # float, int
        try:
            value = float(text)
        except ValueError:
            hint = ""
            if col.fraction and text.endswith("%"):
                try:
                    hint = f"; write fractions, not percents: {float(text[:-1].strip()) / 100:g}"
                except ValueError:
                    pass
            raise _Bad(f"{raw!r} is not a number{hint}") from None
        if not math.isfinite(value):
            raise _Bad(f"{raw!r} is not a finite number")
        if col.kind == "int":
            if value != int(value):
                raise _Bad(f"{raw!r} is not a whole number")
            value = int(value)
    if value is None:
        if not col.nullable:
            raise _Bad("empty cell; this column needs a value")
        return None
    if col.positive and value <= 0:
        raise _Bad(f"{text} must be > 0")
    if col.fraction and not 0 <= value <= 1:
        hint = "; it looks like a percent -- divide by 100" if 1 < value <= 100 else ""
        raise _Bad(f"{text} is outside [0, 1]{hint}")
    if col.choices and value not in col.choices:
        close = _closest(value, col.choices)
        raise _Bad(f"{raw!r} is not one of: {', '.join(col.choices)}"
                   + (f"; did you mean {close!r}?" if close else ""))
    return value


def _series(col: Column, values: list) -> pd.Series:
    """A typed column from parsed Python values (None = missing)."""
    if col.kind == "float":
        return pd.Series(values, dtype="float64")
    if col.kind == "int":
        return pd.Series(pd.array(values, dtype="Int64"))
    if col.kind == "bool":
        return pd.Series(pd.array(values, dtype="boolean"))
    if col.kind == "date":
        return pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), dtype="datetime64[ns]")
    s = pd.Series(values, dtype=object)
    return s.astype("str") if _PANDAS3 else s


def _empty(table: Table) -> pd.DataFrame:
    return pd.DataFrame({c.name: _series(c, []) for c in table.columns})


def _read_records(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line, fields) of each non-blank data row."""
    if not path.is_file():
        raise DataError(path, None, None, "file not found")
    header, records, prev = None, [], 0
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for rec in reader:
                line, prev = prev + 1, reader.line_num
                if not any(c.strip() for c in rec):
                    continue
                if header is None:
                    header = rec
                else:
                    records.append((line, rec))
    except UnicodeDecodeError as e:
        raise DataError(path, None, None, f"not UTF-8 text ({e.reason}); save the CSV as UTF-8") from None
    except csv.Error as e:
        raise DataError(path, None, None, f"unreadable CSV near line {prev + 1}: {e}") from None
    if header is None:
        raise DataError(path, None, None, "file is empty; expected a header line")
    return header, records


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else repr(v)


def _read(path, table: Table) -> tuple[pd.DataFrame, np.ndarray]:
    """Read and check one table; return it with the file line of each row."""
    path = Path(path)
    header, records = _read_records(path)
    twice = [h for h in dict.fromkeys(header) if header.count(h) > 1]
    if twice:
        raise DataError(path, None, twice[0],
                        f"column {twice[0]!r} appears {header.count(twice[0])} times in the header")
    for col in table.columns:
        if col.required and col.name not in header:
            close = _closest(col.name, [h for h in header if h not in table.column_names])
            hint = f"did you mean {close!r}?" if close else f"the header has: {', '.join(header)}"
            raise DataError(path, None, col.name, f"missing column {col.name!r}; {hint}")
    where = {c.name: header.index(c.name) for c in table.columns if c.name in header}
    values: dict[str, list] = {c.name: [] for c in table.columns}
    seen: dict[tuple, int] = {}
    lines = np.array([line for line, _ in records], dtype=int)
    for row, (line, rec) in enumerate(records, start=1):
        if len(rec) > len(header):
            raise DataError(path, row, None, f"{len(rec)} fields but the header has {len(header)}; "
                            "quote values that contain commas", line)
        for col in table.columns:
            i = where.get(col.name)
            raw = rec[i] if i is not None and i < len(rec) else ""
            try:
                values[col.name].append(_parse(col, raw))
            except _Bad as e:
                raise DataError(path, row, col.name, str(e), line) from None
        key = tuple(values[k][-1] for k in table.key)
        if key in seen:
            first = seen[key]
            desc = ", ".join(f"{k}={_fmt(v)}" for k, v in zip(table.key, key))
            raise DataError(path, row, ", ".join(table.key),
                            f"duplicate key ({desc}): same as row {first} (line {lines[first - 1]})", line)
        seen[key] = row
    df = pd.DataFrame({c.name: _series(c, values[c.name]) for c in table.columns})
    return df, lines


def read_table(path, table_name: str) -> pd.DataFrame:
    """Read one CSV and check it against the schema of ``table_name``
    (cells, types, ranges, choices, keys; not links to other tables)."""
    if table_name not in TABLES:
        raise ValueError(f"unknown table {table_name!r}; tables: {', '.join(TABLES)}")
    return _read(path, TABLES[table_name])[0]


# ---------------------------------------------------------------- cross-table


def _link_problems(tables: dict[str, pd.DataFrame], child: str, col: str, parent: str, pcol: str):
    """(position, message) of each row of ``child`` whose ``col`` is not in ``parent``."""
    known = list(tables[parent][pcol])
    bad = ~tables[child][col].isin(set(known))
    out = []
    for pos in np.flatnonzero(bad.to_numpy()):
        v = tables[child][col].iloc[pos]
        close = _closest(v, known)
        out.append((pos, f"{v!r} is not in {TABLES[parent].filename}"
                    + (f"; did you mean {close!r}?" if close else "")))
    return out


def _reference_problems(tables, sources, lines):
    """(position, message) of references rows naming unknown models or models lacking params/tokens."""
    out = _link_problems(tables, "references", "model", "models", "name")
    models = tables["models"].reset_index(drop=True)
    pos_of = {n: i for i, n in enumerate(models["name"])}
    for pos, name in enumerate(tables["references"]["model"]):
        if name not in pos_of:
            continue
        m = models.iloc[pos_of[name]]
        lacking = [c for c in ("params", "tokens") if pd.isna(m[c])]
        if lacking:
            i, mline = pos_of[name], lines.get("models")
            at = f"row {i + 1}" + (f", line {mline[i]}" if mline is not None else "")
            out.append((pos, f"reference model {name!r} has no {' or '.join(lacking)} in "
                        f"{sources.get('models', 'models.csv')} ({at}); "
                        "reference models need params and tokens"))
    return sorted(out, key=lambda p: p[0])


def _check_links(tables, sources, lines, origin=None):
    """Check links between tables; return notes. Where ``origin`` says a shipped
    table points at a user's table, its unmatched rows (for references: whole
    sets) are left out, with a note, instead of raising."""
    notes = []
    for child, col, parent, pcol in LINKS:
        lenient = origin is not None and origin[child] != "user" and origin[parent] == "user"
        if child == "references":
            problems = _reference_problems(tables, sources, lines)
        else:
            problems = _link_problems(tables, child, col, parent, pcol)
        if not problems:
            continue
        df = tables[child]
        if not lenient:
            pos, msg = problems[0]
            ln = lines.get(child)
            raise DataError(sources.get(child, TABLES[child].filename), pos + 1, col, msg,
                            None if ln is None else int(ln[pos]))
        if child == "references":
            sets = sorted({df["set"].iloc[p] for p, _ in problems})
            keep = (~df["set"].isin(sets)).to_numpy()
            notes += [f"reference set {s!r} from {sources[child]} was left out: "
                      f"{next(m for p, m in problems if df['set'].iloc[p] == s)}" for s in sets]
        else:
            keep = np.ones(len(df), bool)
            keep[[p for p, _ in problems]] = False
            notes.append(f"{len(problems)} rows of {sources[child]} were left out: their {col} "
                         f"is not in {sources.get(parent, TABLES[parent].filename)}")
        tables[child] = df[keep].reset_index(drop=True)
        if child in lines:
            lines[child] = lines[child][keep]
    return notes


def _add_shipped_references(tables, sources, lines, origin, shipped: Path) -> list[str]:
    """Where the models are the user's, the reference models they lack come from the shipped data.

    A reference family pins the density scale; a user's folder with only their own models
    still needs it. Every model named in the references table that the user's models.csv
    lacks but the shipped models.csv has is added with its shipped row, and (where the scores
    are the user's too) its shipped scores on the benchmarks in use. A user's own row for a
    reference model, or their own scores of one, override the shipped ones. Returns the names added.
    """
    if origin.get("models") != "user" or not len(tables["references"]):
        return []
    have = set(tables["models"]["name"])
    wanted = [m for m in dict.fromkeys(tables["references"]["model"]) if m not in have]
    if not wanted or not (shipped / TABLES["models"].filename).is_file():
        return []
    ship_models, ship_lines = _read(shipped / TABLES["models"].filename, TABLES["models"])
    add = ship_models["name"].isin(wanted).to_numpy()
    if not add.any():
        return []
    added = list(ship_models.loc[add, "name"])
    tables["models"] = pd.concat([tables["models"], ship_models[add]], ignore_index=True)
    lines["models"] = np.concatenate([lines["models"], ship_lines[add]])
    if origin.get("scores") == "user" and (shipped / TABLES["scores"].filename).is_file():
        ship_scores, score_lines = _read(shipped / TABLES["scores"].filename, TABLES["scores"])
        own = set(tables["scores"]["model"])
        keep = (ship_scores["model"].isin(added) & ~ship_scores["model"].isin(own)
                & ship_scores["benchmark"].isin(set(tables["benchmarks"]["name"]))).to_numpy()
        tables["scores"] = pd.concat([tables["scores"], ship_scores[keep]], ignore_index=True)
        lines["scores"] = np.concatenate([lines["scores"], score_lines[keep]])
    return added


def check_links(data: DensityData) -> None:
    """Check the links between the tables of ``data`` (e.g. after adding rows):
    every score's model and benchmark exist, every target's benchmark exists,
    every reference model exists and has params and tokens."""
    tables = {name: getattr(data, name) for name in TABLES}
    lines = {t: ln for t, ln in data._lines.items() if len(ln) == len(tables[t])}  # stale if rows changed
    _check_links(tables, dict(data.sources), lines)


# ---------------------------------------------------------------- loading


def load_data(data_dir=None, **overrides) -> DensityData:
    """Load and check all tables.

    With no arguments: the shipped data (:func:`shipped_data_dir`). With
    ``data_dir``: the same file names from that folder, which must hold
    models.csv and scores.csv; other tables missing there fall back to the
    shipped ones. ``overrides`` maps a table name to a CSV path
    (``load_data(scores="my_scores.csv")``). Where shipped tables are mixed
    with a user's, shipped rows that point at things the user's tables lack
    are left out (see ``DensityData.notes``); a user's own rows must all match.
    """
    unknown = sorted(set(overrides) - set(TABLES))
    if unknown:
        raise TypeError(f"load_data() got unknown table(s) {unknown}; tables: {', '.join(TABLES)}")
    shipped = shipped_data_dir()
    user_dir = None if data_dir is None else Path(data_dir)
    if user_dir is not None and not user_dir.is_dir():
        raise DataError(user_dir, None, None, "data folder not found")
    tables, sources, lines, origin, notes = {}, {}, {}, {}, []
    for name, table in TABLES.items():
        if overrides.get(name) is not None:
            path, origin[name] = Path(overrides[name]), "user"
        elif user_dir is not None and (user_dir / table.filename).is_file():
            path, origin[name] = user_dir / table.filename, "user"
        elif user_dir is not None and name not in USER_OPTIONAL:
            raise DataError(user_dir / table.filename, None, None,
                            "file not found; a data folder needs models.csv and scores.csv "
                            f"(the other tables fall back to the shipped data in {shipped})")
        elif (shipped / table.filename).is_file() or name in ALWAYS_REQUIRED:
            path, origin[name] = shipped / table.filename, "shipped"
        else:
            tables[name], origin[name] = _empty(table), "none"
            notes.append(f"no {table.filename} found; {name} is empty")
            continue
        tables[name], lines[name] = _read(path, table)
        sources[name] = str(path)
    borrowed = _add_shipped_references(tables, sources, lines, origin, shipped)
    if borrowed:
        notes.append(f"reference models {', '.join(borrowed)} (and their scores) come from the shipped data in "
                     f"{shipped}: {sources['models']} does not list them")
    notes += _check_links(tables, sources, lines, origin)
    return DensityData(**tables, sources=sources, notes=tuple(notes), _lines=lines, borrowed=tuple(borrowed))

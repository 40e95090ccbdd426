"""Loading and validating the data tables (bayes_density.data.io)."""

from __future__ import annotations

import csv
import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bayes_density.data.io import (
    DataError,
    DensityData,
    check_links,
    load_data,
    read_table,
    shipped_data_dir,
)
from bayes_density.data.schema import TABLES

FIXTURE = Path(__file__).parent / "fixtures" / "data"
REPO_DATA = Path(__file__).resolve().parent.parent / "data"


# ---------------------------------------------------------------- helpers


def copy_fixture(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "data"))


def read_csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        header, *rows = list(csv.reader(f))
    return header, rows


def write_csv_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([header, *rows])


def set_cell(file: str, row: int, column: str, value: str):
    """Edit: set data row ``row`` (1-based) of ``column`` to ``value``."""
    def edit(d: Path):
        header, rows = read_csv_rows(d / file)
        rows[row - 1][header.index(column)] = value
        write_csv_rows(d / file, header, rows)
    return edit


def add_column(file: str, column: str, values: dict[int, str]):
    """Edit: append ``column``, empty but for data rows (1-based) given in ``values``."""
    def edit(d: Path):
        header, rows = read_csv_rows(d / file)
        for i, r in enumerate(rows, start=1):
            r.append(values.get(i, ""))
        write_csv_rows(d / file, header + [column], rows)
    return edit


def rename_column(file: str, old: str, new: str):
    def edit(d: Path):
        header, rows = read_csv_rows(d / file)
        header[header.index(old)] = new
        write_csv_rows(d / file, header, rows)
    return edit


def drop_column(file: str, column: str):
    def edit(d: Path):
        header, rows = read_csv_rows(d / file)
        i = header.index(column)
        write_csv_rows(d / file, header[:i] + header[i + 1:], [r[:i] + r[i + 1:] for r in rows])
    return edit


def append_copy(file: str, row: int, **changes: str):
    """Edit: append a copy of data row ``row`` with some cells changed."""
    def edit(d: Path):
        header, rows = read_csv_rows(d / file)
        new = list(rows[row - 1])
        for col, value in changes.items():
            new[header.index(col)] = value
        write_csv_rows(d / file, header, [*rows, new])
    return edit


def extra_field(file: str, row: int):
    def edit(d: Path):
        header, rows = read_csv_rows(d / file)
        rows[row - 1].append("oops")
        write_csv_rows(d / file, header, rows)
    return edit


# ---------------------------------------------------------------- the fixture


def test_fixture_loads_with_types():
    data = load_data(FIXTURE)
    assert isinstance(data, DensityData)
    assert data.notes == ()
    assert set(data.sources) == set(TABLES)
    for name, table in TABLES.items():
        df = getattr(data, name)
        assert list(df.columns) == list(table.column_names), name
        assert Path(data.sources[name]).name == table.filename
        for col in table.columns:
            s = df[col.name]
            check = {
                "date": pd.api.types.is_datetime64_any_dtype,
                "float": lambda s: s.dtype == "float64",
                "int": lambda s: s.dtype == "Int64",
                "bool": lambda s: s.dtype == "boolean",
                "str": pd.api.types.is_string_dtype,
            }[col.kind]
            assert check(s), f"{name}.{col.name}: {s.dtype}"
    assert (len(data.models), len(data.scores), len(data.benchmarks)) == (7, 18, 3)
    assert (len(data.targets), len(data.losses), len(data.references)) == (3, 4, 3)
    m = data.models.set_index("name")
    assert m.loc["Toy-7B", "release_date"] == pd.Timestamp("2023-09-10")
    assert m.loc["Toy-7B", "params"] == 7e9
    assert pd.isna(m.loc["Closed-Toy", "tokens"]) and pd.isna(m.loc["Toy-1B", "notes"])
    assert m.loc["Toy-7B", "notes"] == "toy notes, with a comma"
    s = data.scores
    assert s["shots"].isna().sum() == 3 and s["cot"].isna().sum() == 3
    assert s.loc[1, "cot"] == True and s.loc[0, "shots"] == 5  # noqa: E712 (nullable boolean)
    assert data.model_names[:2] == ["Toy-1B", "Toy-3B"]
    assert data.benchmark_names == ["MMLU", "BBH", "HumanEval"]


def test_reference_models():
    data = load_data(FIXTURE)
    assert list(data.reference_models("toy")["model"]) == ["Toy-1B", "Toy-3B"]
    assert list(data.reference_models("toy-small")["model"]) == ["Toy-1B"]
    with pytest.raises(DataError) as err:
        data.reference_models("Toy-Small")
    msg = str(err.value)
    assert "references.csv" in msg and "available sets: toy, toy-small" in msg
    assert "did you mean 'toy-small'?" in msg


# ---------------------------------------------------------------- bad inputs

# (id, file, edit, row, column, fragments the message must contain)
CASES = [
    ("missing-column", "models.csv", rename_column("models.csv", "release_date", "release date"),
     None, "release_date", ["missing column 'release_date'", "did you mean 'release date'?"]),
    ("missing-column-no-match", "scores.csv", drop_column("scores.csv", "harness"),
     None, "harness", ["missing column 'harness'", "the header has: model,"]),
    ("empty-number", "models.csv", set_cell("models.csv", 2, "params", ""),
     2, "params", ["empty cell"]),
    ("empty-text", "scores.csv", set_cell("scores.csv", 4, "harness", "  "),
     4, "harness", ["empty cell"]),
    ("bad-date", "models.csv", set_cell("models.csv", 3, "release_date", "2023/09/10"),
     3, "release_date", ["'2023/09/10' is not a date", "expected YYYY-MM-DD"]),
    ("impossible-date", "models.csv", set_cell("models.csv", 3, "release_date", "2023-02-30"),
     3, "release_date", ["'2023-02-30'", "YYYY-MM-DD"]),
    ("bad-number", "models.csv", set_cell("models.csv", 3, "params", "7B"),
     3, "params", ["'7B' is not a number"]),
    ("zero-size", "models.csv", set_cell("models.csv", 3, "params", "0"),
     3, "params", ["0 must be > 0"]),
    ("negative-tokens", "models.csv", set_cell("models.csv", 1, "tokens", "-2e11"),
     1, "tokens", ["-2e11 must be > 0"]),
    ("nonpositive-loss", "losses.csv", set_cell("losses.csv", 4, "loss", "0"),
     4, "loss", ["must be > 0"]),
    ("percent-score", "scores.csv", set_cell("scores.csv", 7, "score", "45.0"),
     7, "score", ["45.0 is outside [0, 1]", "it looks like a percent -- divide by 100"]),
    ("negative-score", "scores.csv", set_cell("scores.csv", 7, "score", "-0.1"),
     7, "score", ["-0.1 is outside [0, 1]"]),
    ("percent-string", "scores.csv", set_cell("scores.csv", 7, "score", "45%"),
     7, "score", ["'45%' is not a number", "fractions, not percents: 0.45"]),
    ("percent-chance", "benchmarks.csv", set_cell("benchmarks.csv", 1, "chance", "25"),
     1, "chance", ["outside [0, 1]", "divide by 100"]),
    ("target-percent", "targets.csv", set_cell("targets.csv", 2, "score", "67"),
     2, "score", ["divide by 100"]),
    ("choices", "models.csv", set_cell("models.csv", 4, "base_or_instruct", "Instruct"),
     4, "base_or_instruct", ["'Instruct' is not one of: base, instruct", "did you mean 'instruct'?"]),
    ("choices-specialty", "models.csv", add_column("models.csv", "specialty", {4: "coding"}),
     4, "specialty", ["'coding' is not one of: code, math"]),
    ("choices-benchmark", "benchmarks.csv", set_cell("benchmarks.csv", 3, "answer_type", "code"),
     3, "answer_type", ["not one of: multiple_choice, generated, two_way"]),
    ("bad-int", "scores.csv", set_cell("scores.csv", 1, "shots", "five"),
     1, "shots", ["'five' is not a number"]),
    ("fractional-int", "benchmarks.csv", set_cell("benchmarks.csv", 2, "n_items", "65.5"),
     2, "n_items", ["not a whole number"]),
    ("bad-bool", "scores.csv", set_cell("scores.csv", 2, "cot", "maybe"),
     2, "cot", ["'maybe' is not true/false"]),
    ("duplicate-model", "models.csv", append_copy("models.csv", 2),
     8, "name", ["duplicate key (name='Toy-3B')", "same as row 2 (line 3)"]),
    ("duplicate-score", "scores.csv", append_copy("scores.csv", 7, score="0.5"),
     19, "model, benchmark, source, shots", ["duplicate key (model='Toy-7B', benchmark='MMLU'",
                                             "shots=5)", "same as row 7 (line 8)"]),
    ("duplicate-reference", "references.csv", append_copy("references.csv", 1),
     4, "set, model", ["duplicate key", "same as row 1"]),
    ("too-many-fields", "scores.csv", extra_field("scores.csv", 3),
     3, None, ["8 fields but the header has 7"]),
    ("unknown-model", "scores.csv", set_cell("scores.csv", 5, "model", "Toy-3b"),
     5, "model", ["'Toy-3b' is not in models.csv", "did you mean 'Toy-3B'?"]),
    ("unknown-model-far", "scores.csv", set_cell("scores.csv", 5, "model", "Zzz"),
     5, "model", ["'Zzz' is not in models.csv"]),
    ("benchmark-case", "scores.csv", set_cell("scores.csv", 1, "benchmark", "mmlu"),
     1, "benchmark", ["'mmlu' is not in benchmarks.csv", "did you mean 'MMLU'?"]),
    ("benchmark-space", "scores.csv", set_cell("scores.csv", 4, "benchmark", "MMLU "),
     4, "benchmark", ["'MMLU ' is not in benchmarks.csv", "did you mean 'MMLU'?"]),
    ("target-benchmark", "targets.csv", set_cell("targets.csv", 2, "benchmark", "Human Eval"),
     2, "benchmark", ["'Human Eval' is not in benchmarks.csv", "did you mean 'HumanEval'?"]),
    ("reference-unknown", "references.csv", set_cell("references.csv", 2, "model", "Toy-13B"),
     2, "model", ["'Toy-13B' is not in models.csv"]),
    ("reference-no-tokens", "references.csv", set_cell("models.csv", 2, "tokens", ""),
     2, "model", ["reference model 'Toy-3B' has no tokens", "models.csv (row 2, line 3)",
                  "reference models need params and tokens"]),
]


@pytest.mark.parametrize("file, edit, row, column, fragments",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_names_file_row_column(tmp_path, file, edit, row, column, fragments):
    d = copy_fixture(tmp_path)
    edit(d)
    with pytest.raises(DataError) as err:
        load_data(d)
    e, msg = err.value, str(err.value)
    assert isinstance(e, ValueError)
    assert "\n" not in msg
    assert Path(e.file) == d / file and msg.startswith(str(d / file) + ": ")
    assert (e.row, e.column) == (row, column)
    if row is not None:
        assert e.line == row + 1
        assert f": row {row} (line {row + 1})" in msg
    if column is not None:
        assert column in msg
    for fragment in fragments:
        assert fragment in msg, msg


def test_percent_hint_only_for_percent_like_values(tmp_path):
    d = copy_fixture(tmp_path)
    set_cell("scores.csv", 7, "score", "150")(d)
    with pytest.raises(DataError, match=r"150 is outside \[0, 1\]$"):
        load_data(d)


def test_line_numbers_count_blank_lines(tmp_path):
    d = copy_fixture(tmp_path)
    set_cell("models.csv", 3, "params", "7B")(d)
    text = (d / "models.csv").read_text().splitlines(keepends=True)
    (d / "models.csv").write_text("".join(text[:2] + ["\n"] + text[2:]))  # blank line before row 2
    with pytest.raises(DataError) as err:
        load_data(d)
    assert (err.value.row, err.value.line) == (3, 5)
    assert "row 3 (line 5), column 'params'" in str(err.value)


def test_extra_columns_ignored_and_optional_columns_filled(tmp_path):
    d = copy_fixture(tmp_path)
    drop_column("models.csv", "notes")(d)
    header, rows = read_csv_rows(d / "scores.csv")
    write_csv_rows(d / "scores.csv", [*header, "url"], [[*r, "http://x"] for r in rows])
    data = load_data(d)
    assert "url" not in data.scores.columns
    assert list(data.models.columns) == list(TABLES["models"].column_names)
    assert data.models["notes"].isna().all()


# ---------------------------------------------------------------- user folders, fallbacks, overrides


@pytest.fixture
def fixture_as_shipped(monkeypatch):
    monkeypatch.setenv("BAYES_DENSITY_DATA", str(FIXTURE))
    return FIXTURE


def test_shipped_data_dir(monkeypatch):
    monkeypatch.delenv("BAYES_DENSITY_DATA", raising=False)
    assert shipped_data_dir() == REPO_DATA
    monkeypatch.setenv("BAYES_DENSITY_DATA", "/somewhere/else")
    assert shipped_data_dir() == Path("/somewhere/else")


def test_no_arguments_loads_shipped(fixture_as_shipped):
    data = load_data()
    assert data.sources["models"] == str(FIXTURE / "models.csv")
    assert len(data.models) == 7


def test_user_dir_falls_back_to_shipped_tables(tmp_path, fixture_as_shipped):
    user = tmp_path / "mine"
    user.mkdir()
    for f in ("models.csv", "scores.csv"):
        shutil.copy(FIXTURE / f, user / f)
    data = load_data(user)
    assert data.sources["models"] == str(user / "models.csv")
    assert data.sources["scores"] == str(user / "scores.csv")
    for name in ("benchmarks", "targets", "losses", "references"):
        assert data.sources[name] == str(FIXTURE / TABLES[name].filename)
    assert data.notes == ()
    assert list(data.reference_models("toy")["model"]) == ["Toy-1B", "Toy-3B"]


def test_user_dir_without_reference_models_borrows_them(tmp_path, fixture_as_shipped):
    """The README's promise: reference models a user's folder lacks come from the shipped data."""
    user = tmp_path / "mine"
    user.mkdir()
    header, rows = read_csv_rows(FIXTURE / "models.csv")
    write_csv_rows(user / "models.csv", header, [r for r in rows if r[0] != "Toy-3B"])
    header, rows = read_csv_rows(FIXTURE / "scores.csv")
    write_csv_rows(user / "scores.csv", header, [r for r in rows if r[0] != "Toy-3B"])
    data = load_data(user)
    assert data.reference_sets == ["toy", "toy-small"]
    assert data.borrowed == ("Toy-3B",)
    assert any("Toy-3B" in n and "shipped data" in n for n in data.notes)
    assert list(data.reference_models("toy")["model"]) == ["Toy-1B", "Toy-3B"]
    assert (data.scores["model"] == "Toy-3B").sum() == sum(r[0] == "Toy-3B" for r in rows)
    # for another reference set, the borrowed model is left out again
    small = data.for_reference("toy-small")
    assert "Toy-3B" not in set(small.models["name"]) and "Toy-3B" not in set(small.scores["model"])


def test_user_dir_needs_models_and_scores(tmp_path, fixture_as_shipped):
    user = tmp_path / "mine"
    user.mkdir()
    shutil.copy(FIXTURE / "models.csv", user / "models.csv")
    with pytest.raises(DataError) as err:
        load_data(user)
    assert err.value.file == str(user / "scores.csv") and err.value.row is None
    assert "file not found" in str(err.value)
    with pytest.raises(DataError, match="data folder not found"):
        load_data(tmp_path / "nowhere")


def test_user_scores_must_match_shipped_models(tmp_path, fixture_as_shipped):
    scores = tmp_path / "my_scores.csv"
    header, rows = read_csv_rows(FIXTURE / "scores.csv")
    write_csv_rows(scores, header, [*rows[:2], ["My-Model", *rows[0][1:]]])
    with pytest.raises(DataError) as err:
        load_data(scores=scores)
    assert (err.value.file, err.value.row, err.value.column) == (str(scores), 3, "model")


def test_override_one_table(tmp_path, fixture_as_shipped):
    scores = tmp_path / "my_scores.csv"
    header, rows = read_csv_rows(FIXTURE / "scores.csv")
    write_csv_rows(scores, header, rows[:5])
    data = load_data(scores=scores)
    assert len(data.scores) == 5 and data.sources["scores"] == str(scores)
    assert data.sources["models"] == str(FIXTURE / "models.csv")
    with pytest.raises(TypeError, match="unknown table"):
        load_data(score=scores)


def test_read_table(tmp_path):
    models = read_table(FIXTURE / "models.csv", "models")
    assert len(models) == 7 and models["release_date"].dtype.kind == "M"
    # one table only: links to other tables are not checked here
    scores = tmp_path / "scores.csv"
    header, rows = read_csv_rows(FIXTURE / "scores.csv")
    write_csv_rows(scores, header, [["New-Model", *rows[0][1:]]])
    assert list(read_table(scores, "scores")["model"]) == ["New-Model"]
    set_cell("scores.csv", 1, "score", "26")(tmp_path)
    with pytest.raises(DataError, match=r"scores.csv: row 1 \(line 2\), column 'score': 26 is outside"):
        read_table(scores, "scores")
    with pytest.raises(ValueError, match="unknown table"):
        read_table(scores, "score")


def test_check_links_after_adding_rows():
    data = load_data(FIXTURE)
    extra = data.scores.iloc[:1].assign(model="Toy-70B")
    bigger = dataclasses.replace(data, scores=pd.concat([data.scores, extra], ignore_index=True))
    with pytest.raises(DataError) as err:
        check_links(bigger)
    assert (err.value.row, err.value.column, err.value.line) == (19, "model", None)
    check_links(data)  # the fixture itself is consistent


# ---------------------------------------------------------------- the shipped data


@pytest.mark.skipif(not (REPO_DATA / "models.csv").exists(),
                    reason="data/models.csv is not there yet (the shipped data is built separately)")
def test_shipped_data_loads(monkeypatch):
    monkeypatch.delenv("BAYES_DENSITY_DATA", raising=False)
    data = load_data()
    assert len(data.models) > 0 and len(data.scores) > 0
    assert data.notes == (), data.notes  # every shipped table present and consistent

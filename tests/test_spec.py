from __future__ import annotations

import pytest

from bayes_density.model.spec import SpecError, available_specs, load_spec


def test_shipped_specs_load():
    names = available_specs()
    assert "default" in names
    for n in names:
        s = load_spec(n)
        assert s.name == n and s.source.endswith(f"{n}.toml")


def test_default_spec_is_the_papers_setup():
    s = load_spec()
    assert s.benchmarks == ("MMLU", "BBH", "MATH", "HumanEval", "MBPP")
    assert s.trend == "linear" and s.frontier and s.d0 == 1e12


@pytest.mark.parametrize(
    "body, message",
    [
        ('[trend]\nform = "cubic"\n', "form = 'cubic'"),
        ('[data]\nsize = "huge"\n', "size = 'huge'"),
        ('[data]\nuntil = "last year"\n', "not a date"),
        ('[priors]\nslop = [0.0, 1.0]\n', "did you mean 'slope'"),
        ('[data]\nbenchmark = ["MMLU"]\n', "unknown key"),
        ("[trend\n", "not valid TOML"),
    ],
)
def test_bad_specs(tmp_path, body, message):
    p = tmp_path / "bad.toml"
    p.write_text(body)
    with pytest.raises(SpecError) as e:
        load_spec(p)
    assert message in str(e.value) and str(p) in str(e.value)


def test_extends_takes_the_parent_and_changes_key_by_key(tmp_path):
    (tmp_path / "base.toml").write_text(
        'extends = "default"\nname = "base"\n[trend]\nform = "break"\n[priors]\nslope = [0.0, 2.0]\n')
    (tmp_path / "child.toml").write_text(
        'extends = "base"\n[measurement]\nrobust_scores = true\n[priors]\njump = [0.0, 0.5]\n')
    child, default = load_spec(tmp_path / "child.toml"), load_spec("default")
    assert child.name == "child"  # no name of its own: its file's
    assert child.trend == "break" and child.robust_scores  # from the parent, and its own
    assert child.priors == {**default.priors, "slope": [0.0, 2.0], "jump": [0.0, 0.5]}  # priors merged key by key
    assert child.benchmarks == default.benchmarks and child.exclude_variants == default.exclude_variants
    shipped = load_spec("specialists")  # a shipped child of the default: only its own lines differ
    diff = {k for k, v in shipped.to_dict().items() if v != default.to_dict()[k]}
    assert diff == {"name", "description", "specialists", "fixed_floors", "source"}


@pytest.mark.parametrize("files, message", [
    ({"a.toml": 'extends = "nowhere"\n'}, "no such spec"),
    ({"a.toml": 'extends = "b"\n', "b.toml": 'extends = "a"\n'}, "loops back"),
    ({"a.toml": "extends = 3\n"}, "extends = 3"),
])
def test_bad_extends(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(SpecError, match=message):
        load_spec(tmp_path / "a.toml")

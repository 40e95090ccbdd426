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

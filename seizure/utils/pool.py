"""Process pools for ``--jobs N``: forkserver workers whose idle BLAS threads sleep.

numpy's OpenBLAS starts one thread per core in every process and, after each matrix
product, keeps its helper threads spinning for about 2**28 cycles (0.1 s) before they sleep.
A process that calls ``M @ X`` every 50 ms keeps a whole second core busy that way, and in a
pool of N workers on N cores each worker's spinning helpers take the cores the other workers
need (on 2 cores, ``--jobs 2`` preprocessing 8 one-hour recordings ran 1.35-1.49x faster
than ``--jobs 1``; 1.66-1.80x with this). The workers here set
``OPENBLAS_THREAD_TIMEOUT=4`` (spin 2**4 cycles, then sleep), which OpenBLAS reads once
when it loads, so it is set in the forkserver (:mod:`seizure.utils._worker_env`, imported
first) before numpy is imported there; every worker is forked from that server and inherits
it, and the caller's own environment is left alone.

The BLAS thread *count* is deliberately left as the caller's: OpenBLAS's single-threaded
``sgemm`` rounds differently from its multi-threaded one (measured: the synthetic
generator's source mixing and the ``average`` montage), so one thread per worker would make
``--jobs 2`` write other bytes than ``--jobs 1``. With the same count, results are identical
whatever ``jobs``.

The forkserver is one per process: when one is already running (started by an earlier pool
of this process), its workers keep the settings and preloaded modules it was started with;
every pool of this package starts it the same way.

:class:`PipeWorkers` is the other kind of pool, for work handed out *while* the caller runs
threads of its own (the inference engine's readers and device queues): ``python -c`` worker
processes that import only the module of the function they run. A forkserver or spawn worker
imports the caller's ``__main__`` (torch for the benchmark and the CLI: ~1 s of CPU per
worker, and an unguarded script would run again), and a forked one inherits the caller's
threads and CUDA state; these workers do neither.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import multiprocessing
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["WORKER_ENVIRONMENT", "PipeWorkers", "pool_context", "serve"]

#: Set in the worker processes unless the caller's environment already sets them.
WORKER_ENVIRONMENT = {"OPENBLAS_THREAD_TIMEOUT": "4"}

_ENV_MODULE = "seizure.utils._worker_env"


def pool_context(preload: Sequence[str] = ()):
    """A multiprocessing context for :class:`~concurrent.futures.ProcessPoolExecutor`.

    Parameters
    ----------
    preload : sequence of str
        Modules the forkserver imports once (after setting :data:`WORKER_ENVIRONMENT`), so
        that the workers forked from it start with them loaded.

    Returns
    -------
    multiprocessing context
        ``forkserver`` (workers do not inherit the caller's threads or open files), or
        ``spawn`` where there is no forkserver (Windows; no worker environment there).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([_ENV_MODULE, *preload])
    return context


def _resolve(function: str) -> Callable[..., Any]:
    """The function named ``"package.module:name"``."""
    module, _, name = function.partition(":")
    return getattr(importlib.import_module(module), name)


def serve(function: str) -> None:
    """Worker loop of :class:`PipeWorkers`: read pickled argument tuples from stdin, write
    the pickled ``(ok, result or exception)`` of ``function(*args)`` to stdout, until stdin
    closes.

    Parameters
    ----------
    function : str
        ``"package.module:name"`` of a module-level function.
    """
    fn = _resolve(function)
    stdin = sys.stdin.buffer
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, not into the protocol
    while True:
        try:
            job = pickle.load(stdin)
        except EOFError:
            return
        try:
            reply = (True, fn(*job))
        except Exception as err:  # sent back, re-raised by the caller
            reply = (False, err)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an unpicklable result or exception
            data = pickle.dumps((False, RuntimeError(repr(reply[1]))))
        out.write(data)
        out.flush()


class PipeWorkers:
    """A pool of ``python -c`` processes running ``function(*job)`` (see the module docstring).

    One thread of this process per worker hands it one job at a time over its stdin and
    stdout (the thread waits in ``read``, without the GIL). A worker that dies (or cannot
    start) is replaced by its thread doing the jobs itself, so every job completes or raises
    its own error.

    Parameters
    ----------
    workers : int
        Worker processes.
    function : str
        ``"package.module:name"`` of a module-level function; jobs and results are pickled.
    """

    def __init__(self, workers: int, function: str) -> None:
        import seizure

        self.workers = int(workers)
        self.function = function
        self._fn = _resolve(function)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        env = dict(os.environ)
        root = str(Path(seizure.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        code = f"from seizure.utils.pool import serve; serve({function!r})"
        self._procs: list[subprocess.Popen | None] = []
        self._threads: list[threading.Thread] = []
        for k in range(self.workers):
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-c", code],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                )
            except OSError:  # pragma: no cover - cannot start a process: work in threads
                proc = None
            self._procs.append(proc)
            thread = threading.Thread(
                target=self._serve, args=(proc,), name=f"seizure-worker-{k}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def submit(self, job: tuple) -> concurrent.futures.Future:
        """Queue ``function(*job)``; returns its future."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((future, job))
        return future

    def _serve(self, proc: subprocess.Popen | None) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                break
            future, job = item
            if not future.set_running_or_notify_cancel():
                continue
            reply = None
            if proc is not None:
                try:
                    pickle.dump(job, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                    proc.stdin.flush()
                    reply = pickle.load(proc.stdout)
                except (OSError, EOFError, pickle.UnpicklingError):
                    _stop(proc)  # the worker died: do its jobs here
                    proc = None
            if reply is None:
                try:
                    reply = (True, self._fn(*job))
                except Exception as err:
                    reply = (False, err)
            ok, value = reply
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        if proc is not None:
            _stop(proc)

    def alive(self) -> bool:
        """Whether every worker process is still running."""
        return all(p is not None and p.poll() is None for p in self._procs)

    def close(self) -> None:
        """Finish the queued jobs, then stop the workers."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()


def _stop(proc: subprocess.Popen) -> None:
    """Close a worker's pipes (it exits on end of input) and reap it."""
    for pipe in (proc.stdin, proc.stdout):
        try:
            pipe.close()
        except OSError:  # a dead worker's unflushed input
            pass
    proc.wait()

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

Stopping. :func:`process_pool` gives a pool whose workers never outlive the run: when the
block ends with an exception (:func:`stop_on_signals` turns SIGINT and SIGTERM into one) the
queued jobs are cancelled and the workers terminated at once, and each worker watches its
parent (:func:`multiprocessing.parent_process`: a pipe whose other end only the parent
holds) from a thread and exits as soon as the parent is gone, SIGKILL included. The
forkserver and the resource tracker end by themselves when the parent and the workers are
gone (they wait for end of file on pipes those processes hold). Workers ignore SIGINT: a
Ctrl-C reaches the whole process group, and the parent stops them itself.

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
import contextlib
import importlib
import multiprocessing
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from seizure.utils.errors import SeizureError

__all__ = [
    "WORKER_ENVIRONMENT",
    "Interrupted",
    "PipeWorkers",
    "pool_context",
    "process_pool",
    "start_server",
    "serve",
    "stop_on_signals",
]

#: Set in the worker processes unless the caller's environment already sets them.
WORKER_ENVIRONMENT = {"OPENBLAS_THREAD_TIMEOUT": "4"}

_ENV_MODULE = "seizure.utils._worker_env"


def pool_context(preload: Sequence[str] = ()):
    """Make a multiprocessing context for :class:`~concurrent.futures.ProcessPoolExecutor`.

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


def start_server(context: Any) -> None:
    """Start the forkserver of ``context`` now, without waiting for it.

    The server imports its preloaded modules in its own process while the caller goes on;
    the first worker of a pool made from ``context`` is then forked from a server that is
    ready, or nearly so. Nothing is done for other start methods.

    Parameters
    ----------
    context : multiprocessing context
        From :func:`pool_context`.
    """
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


class Interrupted(SeizureError):
    """A run stopped by SIGINT or SIGTERM (:func:`stop_on_signals`).

    Parameters
    ----------
    signum : int
        The signal received.
    message : str
        What the user should know (what was kept, how to continue).

    Attributes
    ----------
    exit_code : int
        ``128 + signum``, as a shell reports a process ended by that signal: 130 for SIGINT,
        143 for SIGTERM.
    """

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(what: str, then: str) -> Iterator[None]:
    """End the block at SIGINT or SIGTERM, unwinding it, then raise :class:`Interrupted`.

    The signal raises ``KeyboardInterrupt`` where the block is, so its ``finally`` clauses and
    context managers run (a pool's workers are terminated, temporary files removed); further
    signals are ignored while it unwinds. Outside the main thread (where Python cannot set
    signal handlers) the block runs unchanged.

    Parameters
    ----------
    what : str
        The run, for the message (``"preprocess"``).
    then : str
        What was kept and how to continue, for the message.

    Raises
    ------
    Interrupted
        ``"<what> interrupted by SIGTERM; <then>"``, with exit status 128 + the signal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handle(signum: int, frame: Any) -> None:
        received.append(signum)
        if len(received) == 1:
            # not an Exception: an ``except Exception`` that records one item's failure
            # must not take the signal for one
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handle) for sig in _STOP_SIGNALS}
    try:
        yield
    except KeyboardInterrupt:
        if not received:  # raised by something else: not ours to translate
            raise
        name = signal.Signals(received[0]).name
        raise Interrupted(received[0], f"{what} interrupted by {name}; {then}") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def process_pool(workers: int, context: Any = None) -> Iterator[ProcessPoolExecutor]:
    """Open a :class:`~concurrent.futures.ProcessPoolExecutor` whose workers die with the run.

    Workers come from ``context`` and watch their parent (see the module
    docstring). When the block ends normally, the pool is shut down after its jobs; when
    it ends with an exception (a signal, an error), the queued jobs are cancelled and the
    workers terminated at once (killed if they have not exited within a few seconds).

    Parameters
    ----------
    workers : int
        Worker processes.
    context : multiprocessing context, optional
        From :func:`pool_context` (the default: ``pool_context()``).

    Yields
    ------
    ProcessPoolExecutor
    """
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=pool_context() if context is None else context,
        initializer=_start_worker,
    )
    try:
        yield pool
    except BaseException:
        _terminate(pool)
        raise
    pool.shutdown(wait=True)


def _terminate(pool: ProcessPoolExecutor, wait_s: float = 5.0) -> None:
    """Cancel the queued jobs of ``pool`` and end its workers without waiting for their jobs."""
    # ProcessPoolExecutor.terminate_workers exists from Python 3.14; before, the processes
    # are only reachable as the executor's ``_processes``
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.terminate()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(wait_s)
            if process.is_alive():
                process.kill()
                process.join(wait_s)


def _start_worker() -> None:
    """Initialize a worker of :func:`process_pool` (runs in each worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=_exit_with, args=(parent,), name="seizure-parent-watch", daemon=True
        ).start()


def _exit_with(parent: Any) -> None:
    """Wait until the parent process is gone (its end of a pipe closes), then exit at once.

    ``os._exit``: the job under way is abandoned; what it wrote is a temporary file, which
    the next run removes.
    """
    parent.join()
    os._exit(1)


def _resolve(function: str) -> Callable[..., Any]:
    """Import the function named ``"package.module:name"``."""
    module, _, name = function.partition(":")
    return getattr(importlib.import_module(module), name)


def serve(function: str) -> None:
    """Run the worker loop of :class:`PipeWorkers`.

    It reads pickled argument tuples from stdin and writes the pickled
    ``(ok, result or exception)`` of ``function(*args)`` to stdout, until stdin closes.

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

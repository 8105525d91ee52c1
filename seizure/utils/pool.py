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
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence

__all__ = ["WORKER_ENVIRONMENT", "pool_context"]

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

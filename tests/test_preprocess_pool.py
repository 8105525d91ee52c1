"""Worker pools of ``--jobs``: the workers' environment is set, the caller's is not."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import pytest

from seizure.preprocessing.build import _pool_context
from seizure.utils.pool import WORKER_ENVIRONMENT, pool_context

pytestmark = pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver"
)


@pytest.mark.parametrize("make", [_pool_context, pool_context], ids=["preprocess", "plain"])
def test_workers_let_idle_blas_threads_sleep_and_caller_is_untouched(make):
    before = dict(os.environ)
    names = list(WORKER_ENVIRONMENT)
    with ProcessPoolExecutor(2, mp_context=make()) as pool:
        seen = list(pool.map(os.getenv, names * 2))
    # OpenBLAS reads it when it loads: it must be set in the server before numpy is imported
    assert seen == [before.get(n, WORKER_ENVIRONMENT[n]) for n in names * 2]
    assert dict(os.environ) == before


def test_worker_environment_keeps_the_blas_thread_count():
    # one thread per worker would change the bytes written (OpenBLAS's single-threaded sgemm
    # rounds differently), so the thread-count variables are left as the caller's
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS"):
        assert name not in WORKER_ENVIRONMENT

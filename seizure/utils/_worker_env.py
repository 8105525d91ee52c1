"""Imported first by the worker pools' forkserver: sets the workers' environment.

Sets :data:`seizure.utils.pool.WORKER_ENVIRONMENT` (unless already set) in this process's
environment before numpy is imported here, so that the workers forked from this server
inherit it. Never import it in a process that does its own work: see
:mod:`seizure.utils.pool`.
"""

from __future__ import annotations

import os

from seizure.utils.pool import WORKER_ENVIRONMENT

for _name, _value in WORKER_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)

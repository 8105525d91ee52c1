"""Logging: one logger hierarchy, ``seizure.*``, and the one handler the CLI installs.

Library modules log to ``logging.getLogger(__name__)`` and never print. Functions that take a
``log`` callback (``train``, ``evaluate``, ``detect``, ``run_demo``, ...) default it to their
module's logger at INFO, so a Python caller sees their notes once logging is configured
(``logging.basicConfig(level=logging.INFO)``, or :func:`configure_logging`).

Levels as the ``seizure`` command uses them:

- WARNING and above: always shown (``seizure -q`` keeps only these);
- INFO: notes and progress lines (one line per epoch, per recording, per stage);
- DEBUG: detail for ``seizure -v``, such as the time each stage took.

Progress bars (:func:`seizure.utils.progress.progress`) follow the ``seizure`` logger: a level
above INFO set on it, as ``-q`` does, hides them.
"""

from __future__ import annotations

import logging
import sys
import time

__all__ = [
    "LOGGER_NAME",
    "ShortFormatter",
    "StderrHandler",
    "Stopwatch",
    "configure_logging",
    "quiet_requested",
]

#: The root of the package's logger hierarchy.
LOGGER_NAME = "seizure"


class ShortFormatter(logging.Formatter):
    """An INFO record as its message alone; other levels prefixed (``debug: ...``)."""

    def format(self, record: logging.LogRecord) -> str:
        """Return ``message`` for INFO, ``<level>: message`` otherwise (with any traceback)."""
        text = super().format(record)
        if record.levelno == logging.INFO:
            return text
        return f"{record.levelname.lower()}: {text}"


class StderrHandler(logging.Handler):
    """Write records to the current ``sys.stderr``, above any progress bar.

    ``sys.stderr`` is looked up for every record, so a stream swapped in later (click's
    ``CliRunner``, pytest's capture) receives the lines. When tqdm is loaded its ``write`` is
    used, which clears and redraws the bars around the line.
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Format ``record`` and write it as one line."""
        try:
            message = self.format(record)
            tqdm = sys.modules.get("tqdm")
            if tqdm is not None:
                tqdm.tqdm.write(message, file=sys.stderr)
            else:
                sys.stderr.write(message + "\n")
            sys.stderr.flush()  # in order with stdout, which click flushes
        except Exception:  # noqa: BLE001 - logging's own policy: report, never raise
            self.handleError(record)


def configure_logging(level: int = logging.INFO) -> logging.Logger:
    """Send the ``seizure`` loggers' records at ``level`` and above to stderr.

    Installs one :class:`StderrHandler` with a :class:`ShortFormatter` on the ``seizure``
    logger (again calling only changes the level). Records still propagate to the root
    logger, so handlers an application installed there keep seeing them.

    Parameters
    ----------
    level : int
        ``logging.WARNING`` (quiet), ``logging.INFO`` (default) or ``logging.DEBUG``
        (verbose).

    Returns
    -------
    logging.Logger
        The ``seizure`` logger.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not any(isinstance(h, StderrHandler) for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(ShortFormatter())
        logger.addHandler(handler)
    return logger


def quiet_requested() -> bool:
    """Whether a level above INFO was set on the ``seizure`` logger (``seizure -q``)."""
    return logging.getLogger(LOGGER_NAME).level > logging.INFO


class Stopwatch:
    """Log, at DEBUG, the time each stage of a run took.

    Parameters
    ----------
    logger : logging.Logger
        Where the lines go (``<stage>: <seconds> s``).
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._last = time.perf_counter()

    def lap(self, stage: str) -> float:
        """Log the seconds since the previous lap (or since creation) as ``stage``; return them."""
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        self.logger.debug("%s: %.3f s", stage, seconds)
        return seconds

"""Which stage outputs of a pipeline folder are complete, and which configuration made them.

A pipeline folder (``seizure demo --out DIR``) holds one sub-folder per stage and a
``stages.json`` that records, per stage, two fingerprints and whether the stage finished:

``fingerprint``
    Hash of everything the stage's output depends on *that cannot change in place* (its
    config section and the fingerprints of the stages before it). When it differs, the
    stage's folder is deleted and rebuilt.
``exact``
    Hash of everything the output depends on. When it equals the recorded one and the stage
    finished, the stage is skipped; when only ``exact`` differs (e.g. ``train.epochs`` was
    raised), the stage resumes in place.

The record is written when a stage starts (``complete: false``, ``status: running``) and
again when it ends (``complete: true``, ``status: finished``, or ``status: failed`` /
``interrupted`` with the ``reason``), so a folder that exists without a record was not made by
the pipeline and is never deleted. ``seizure demo`` keeps one record for its output folder;
``seizure experiment`` keeps one in each run folder (one stage, ``run``), so that the tasks of
a SLURM array never write the same file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from seizure.utils.errors import SeizureError
from seizure.utils.fsio import atomic_write_text

__all__ = ["StageError", "StageStore", "stage_fingerprint"]

STATE_FILE = "stages.json"

Action = Literal["skip", "resume", "fresh"]


class StageError(SeizureError):
    """A stage folder cannot be used (it holds something this pipeline did not make)."""


def stage_fingerprint(*parts: Any) -> str:
    """16 hex digits of sha256 over the JSON of ``parts`` (dicts, lists, strings, numbers)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class StageStore:
    """The ``stages.json`` record of a pipeline folder.

    Parameters
    ----------
    root : path
        The pipeline folder (created on first write).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.path = self.root / STATE_FILE

    def _load(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise StageError(f"{self.path}: unreadable stage record ({err}); delete it") from err
        return data if isinstance(data, dict) else {}

    def get(self, stage: str) -> dict[str, Any] | None:
        """Return the record of ``stage``, or None."""
        return self._load().get(stage)

    def _put(self, stage: str, record: Mapping[str, Any]) -> None:
        data = self._load()
        data[stage] = dict(record)
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n")

    def prepare(
        self, stage: str, folder: str | Path, fingerprint: str, exact: str | None = None
    ) -> Action:
        """Decide what to do with ``stage`` whose output is ``folder``.

        Parameters
        ----------
        stage : str
            Stage name (a key of ``stages.json``).
        folder : path
            The stage's output folder (must lie inside the pipeline folder).
        fingerprint, exact : str
            See the module docstring; ``exact`` defaults to ``fingerprint``.

        Returns
        -------
        {'skip', 'resume', 'fresh'}
            ``skip``: complete and made with this exact config. ``resume``: started with a
            compatible config; continue in place. ``fresh``: nothing there (a folder made with
            an incompatible config has just been deleted).

        Raises
        ------
        StageError
            ``folder`` is outside the pipeline folder, or exists and is not empty without a
            record (it was not made by this pipeline; it is left untouched).
        """
        exact = exact or fingerprint
        folder = Path(folder)
        root = self.root.resolve()
        if root not in folder.resolve().parents:
            raise StageError(f"{folder}: a stage folder must lie inside {self.root}")
        record = self.get(stage)
        exists = folder.is_dir() and any(folder.iterdir())
        if record is None:
            if exists:
                raise StageError(
                    f"{folder}: exists and was not made by this pipeline (no record in "
                    f"{self.path}); choose another output folder or delete it"
                )
            return "fresh"
        if record.get("fingerprint") != fingerprint:
            if folder.exists():
                shutil.rmtree(folder)
            return "fresh"
        if record.get("exact") == exact and record.get("complete") and exists:
            return "skip"
        return "resume" if exists else "fresh"

    def start(self, stage: str, fingerprint: str, exact: str | None = None, **info: Any) -> None:
        """Record that ``stage`` started with these fingerprints (not complete).

        ``info`` (JSON values) is stored with the record.
        """
        self._put(stage, self._record(fingerprint, exact, False, "running", info))

    def finish(self, stage: str, fingerprint: str, exact: str | None = None, **info: Any) -> None:
        """Record that ``stage`` completed; ``info`` is stored with it (JSON values)."""
        self._put(stage, self._record(fingerprint, exact, True, "finished", info))

    def fail(
        self,
        stage: str,
        fingerprint: str,
        exact: str | None = None,
        *,
        reason: str,
        status: Literal["failed", "interrupted"] = "failed",
        **info: Any,
    ) -> None:
        """Record that ``stage`` stopped before completing, and why.

        Parameters
        ----------
        stage, fingerprint, exact : str
            As for :meth:`start`.
        reason : str
            What went wrong, for the user (the first line is the summary).
        status : {'failed', 'interrupted'}
            ``interrupted`` when running again resumes the stage.
        **info
            Stored with the record (JSON values).
        """
        self._put(
            stage, self._record(fingerprint, exact, False, status, {"reason": reason, **info})
        )

    @staticmethod
    def _record(
        fingerprint: str, exact: str | None, complete: bool, status: str, info: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            **info,
            "fingerprint": fingerprint,
            "exact": exact or fingerprint,
            "complete": complete,
            "status": status,
        }

"""Output folders that cannot be created or written: a named usage error, never a traceback.

Every command refuses such a folder with exit status 2, naming the folder, the path that
failed and the reason. Tests run as root here, where permissions are not enforced, so an
unwritable folder is made in two ways: a path under a regular file (no permission needed to
fail), and ``Path.mkdir`` patched to raise ``PermissionError`` for the folder.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from battery import FAST, processed, refused, run

from seizure.utils.errors import OutputFolderError
from seizure.utils.locks import FolderBusyError, FolderLock, exclusive_folder

TRAIN = [
    "--config",
    Path(__file__).resolve().parents[2] / "seizure" / "configs" / "train" / "tiny_cpu.yaml",
    *FAST,
    "--set",
    "train.sequence_windows=4",
    "--set",
    "train.batch_size=2",
    "--set",
    "train.epochs=1",
]


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A regular file: any folder below it cannot be created."""
    path = tmp_path / "notes.txt"
    path.write_text("a file, not a folder")
    return path


@pytest.fixture
def no_permission(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A folder path whose creation fails with EACCES, as an unwritable parent gives."""
    denied = tmp_path / "denied"
    original = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self == denied or denied in self.parents:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    return denied


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(corpus, cache, best.pt): 4 recordings of 16 s, one tiny epoch."""
    from battery import write_edf

    root = tmp_path_factory.mktemp("folders")
    corpus = root / "corpus"
    for seed, rid in enumerate(["pa_r1", "pb_r1", "pc_r1", "pd_r1"]):
        write_edf(corpus / f"{rid}.edf", seed=seed, seconds=16)
    cache = root / "cache"
    processed(run("preprocess", corpus, cache, *FAST))
    processed(run("train", cache, root / "run", *TRAIN))
    return corpus, cache, root / "run" / "best.pt"


# ---- the lock is where a folder is first created: the error is named there


def test_a_lock_under_a_regular_file_names_the_folder_and_the_reason(a_file):
    folder = a_file / "run"
    with pytest.raises(OutputFolderError, match=r"notes\.txt/run: cannot create or write this"):
        FolderLock(folder, ".lock", "run folder").try_acquire()
    expected = r"Not a directory: a file stands where a folder is needed; choose another run folder"
    with pytest.raises(OutputFolderError, match=expected):
        with exclusive_folder(folder, "run folder"):
            pass  # pragma: no cover (never entered)


def test_a_lock_in_a_folder_without_permission_names_it(no_permission):
    with pytest.raises(OutputFolderError, match=r"denied: cannot create.*Permission denied"):
        FolderLock(no_permission, ".lock", "cache").acquire()


def test_the_exit_statuses_of_refused_and_busy_folders():
    assert OutputFolderError("x").exit_code == 2  # choose another folder
    assert FolderBusyError("x").exit_code == 1  # another process: try again later


# ---- preprocess


def test_preprocess_into_a_folder_under_a_file_is_refused(flat_corpus, a_file):
    result = refused(
        run("preprocess", flat_corpus, a_file / "cache", *FAST),
        2,
        r"Error: .*notes\.txt/cache: cannot create or write this cache: Not a directory",
    )
    assert result.output.count("\n") == 1  # one line
    assert a_file.read_text() == "a file, not a folder"


def test_preprocess_into_a_folder_without_permission_is_refused(flat_corpus, no_permission):
    refused(
        run("preprocess", flat_corpus, no_permission / "cache", *FAST),
        2,
        r"denied/cache: cannot create or write this cache: Permission denied",
    )


# ---- train


def test_train_into_a_folder_under_a_file_is_refused(trained, a_file):
    _, cache, _ = trained
    refused(
        run("train", cache, a_file / "run", *TRAIN),
        2,
        r"notes\.txt/run: cannot create or write this run folder: Not a directory",
    )


def test_train_into_a_folder_without_permission_is_refused(trained, no_permission):
    _, cache, _ = trained
    refused(
        run("train", cache, no_permission, *TRAIN),
        2,
        r"denied: cannot create or write this run folder.*Permission denied",
    )


# ---- evaluate and detect


def test_evaluate_into_a_folder_under_a_file_is_refused(trained, a_file):
    _, cache, best = trained
    refused(
        run("evaluate", best, cache, a_file / "o", "--split", "dev", "--device", "cpu"),
        2,
        r"notes\.txt/o: cannot create or write this evaluation folder: Not a directory",
    )


def test_detect_into_a_folder_without_permission_is_refused(trained, no_permission):
    corpus, _, best = trained
    refused(
        run("detect", best, corpus / "pa_r1.edf", "--out", no_permission, "--device", "cpu"),
        2,
        r"denied: cannot create or write this detection folder: Permission denied",
    )

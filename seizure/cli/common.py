"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem

from seizure.config import Config, ConfigError, load_config, resolve_config_path, shipped_configs

#: How ``--config`` finds a file, for the help texts.
CONFIG_HELP = (
    "a YAML file, or a config shipped with the package by name: --config tcp_lfcc, "
    "--config train/h100 (a wrong name lists them all)"
)


class ConfigFile(click.ParamType):
    """A ``--config`` value: a YAML file path or a shipped config name.

    It is converted to the path of an existing file (:func:`seizure.config.resolve_config_path`);
    anything else is a usage error (exit status 2) whose message lists the shipped configs.
    """

    name = "file|name"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """Resolve ``value`` to the path of an existing YAML file, as a string."""
        try:
            return str(resolve_config_path(value))
        except ConfigError as err:
            self.fail(str(err), param, ctx)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        """Complete shipped config names, then files."""
        names = [CompletionItem(n) for n in shipped_configs() if n.startswith(incomplete)]
        return [*names, CompletionItem(incomplete, type="file")]


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--config FILE|NAME`` (repeatable) and ``--set key=value`` (repeatable)."""
    func = click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override one config value, e.g. --set train.epochs=3 (repeatable; values are YAML).",
    )(func)
    func = click.option(
        "--config",
        "config_files",
        multiple=True,
        type=ConfigFile(),
        help=f"Config merged over the defaults, in order (repeatable): {CONFIG_HELP}.",
    )(func)
    return func


def device_option(purpose: str, *, indexed: bool = False) -> Callable[..., Any]:
    """``--device`` (default ``auto``): where ``purpose`` happens.

    ``indexed`` commands accept ``cuda:N`` too (inference on one chosen GPU); the others take
    ``auto``, ``cpu`` or ``cuda`` (training picks its GPU from the launcher's local rank).
    """
    kinds: dict[str, Any] = (
        {"metavar": "auto|cpu|cuda[:N]"}
        if indexed
        else {"type": click.Choice(["auto", "cpu", "cuda"])}
    )
    return click.option(
        "--device",
        default="auto",
        show_default=True,
        help=f"Where {purpose}; auto uses a CUDA GPU when there is one.",
        **kinds,
    )


def resolve_config(
    config_files: Sequence[str], overrides: Sequence[str], base: dict | None = None
) -> Config:
    """Load the config of a command.

    A :class:`~seizure.config.ConfigError` ends the command with exit status 2 and a message
    that says what is wrong (see :class:`seizure.cli.LazyGroup`).
    """
    return load_config(list(config_files), list(overrides), base=base)


# ------------------------------------------------------------------ verbosity and --json


def set_verbosity(level: int) -> None:
    """Send the ``seizure`` loggers' records at ``level`` and above to stderr."""
    from seizure.utils.log import configure_logging

    configure_logging(level)


def _verbosity_callback(level: int) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            set_verbosity(level)

    return callback


def verbosity_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``-v/--verbose`` and ``-q/--quiet`` to a subcommand (as the group has them).

    Given after the command name they override the group's setting; not given, the group's
    stays (``logging.INFO`` by default).
    """
    import logging

    func = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_verbosity_callback(logging.WARNING),
        help="Only warnings, errors and results: no notes, no progress bars.",
    )(func)
    func = click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_verbosity_callback(logging.DEBUG),
        help="Also debug detail (the time each stage took).",
    )(func)
    return func


def json_option(what: str) -> Callable[..., Any]:
    """``--json FILE``: write a machine-readable summary of the run (see :func:`json_summary`)."""
    return click.option(
        "--json",
        "json_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help=f"Also write one JSON object to FILE: {what}",
    )


def check_outside(json_file: Path | None, folder: Path, name: str) -> None:
    """Refuse (usage error) a ``--json`` file inside the output folder ``folder``."""
    if json_file is None:
        return
    inner = Path(os.path.abspath(json_file))
    if Path(os.path.abspath(folder)) in inner.parents:
        raise click.BadParameter(
            f"{json_file} is inside {name} {folder}, which this command clears and claims; "
            "write it elsewhere",
            param_hint="'--json'",
        )


@contextmanager
def json_summary(json_file: Path | None, command: str) -> Iterator[dict[str, Any]]:
    """Collect a run's summary and write it to ``json_file`` (when given) at the end.

    The file is removed first, so that a run killed midway never leaves an earlier run's
    summary behind. The body fills the yielded dict (``outcome``, key figures, ``outputs``);
    it is written, atomically, when the body ends. When the body ends with a
    :class:`~seizure.utils.errors.SeizureError` or a click error, the file holds
    ``{"command", "outcome": "error", "exit_code", "error"}`` instead and the error goes on.

    Parameters
    ----------
    json_file : Path or None
        Where to write; None writes nothing.
    command : str
        The command's name, written as ``"command"``.

    Yields
    ------
    dict
        The summary, holding ``"command"``; the body adds the rest.
    """
    from seizure.utils.errors import SeizureError
    from seizure.utils.fsio import atomic_write_text

    def write(obj: dict[str, Any]) -> None:
        if json_file is not None:
            text = json.dumps(_finite(obj), indent=1, allow_nan=False, default=str) + "\n"
            atomic_write_text(json_file, text)

    if json_file is not None:
        json_file.unlink(missing_ok=True)
    summary: dict[str, Any] = {"command": command}
    try:
        yield summary
    except (SeizureError, click.ClickException) as err:
        message = err.format_message() if isinstance(err, click.ClickException) else str(err)
        write({"command": command, "outcome": "error", "exit_code": err.exit_code,
               "error": message})  # fmt: skip
        raise
    write(summary)


def _finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities as None (JSON has no such numbers)."""
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and obj != obj or obj in (float("inf"), float("-inf")):
        return None
    return obj


# ------------------------------------------------------------------ --label-map

#: Help of ``--label-map``, shared by the commands that read annotations.
LABEL_MAP_HELP = (
    "Read the annotation text TEXT (case-insensitive: an mne-bids trial_type, an EDF+ "
    "annotation, any label of an annotation file) as LABEL (seiz, bckg or a TUSZ seizure type "
    "such as fnsz), over preprocess.label_map of --config; repeatable, or a YAML file of "
    "TEXT: LABEL. A text matched by no map keeps its usual reading: an unknown label in an "
    "annotation file is an error naming the file and line, an EDF+ annotation that is no "
    "seizure label is left out with a warning."
)


def _parse_label_map(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> dict[str, str]:
    """Turn ``--label-map`` values (``TEXT=LABEL`` or a YAML file) into one checked map.

    A value naming an existing file is that file, even with ``=`` in its path; any other
    value with ``=`` is ``TEXT=LABEL``.
    """
    import yaml

    from seizure.preprocessing.config import check_label_map

    merged: dict[str, Any] = {}
    for value in values:
        path = Path(value)
        if not path.is_file():
            if "=" in value:
                text, label = value.rsplit("=", 1)
                merged[text] = label
                continue
            raise click.BadParameter(
                f"expected TEXT=LABEL or a YAML file of TEXT: LABEL, got {value!r} (no such file)",
                ctx,
                param,
            )
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            raise click.BadParameter(
                f"{path}: cannot be read as YAML ({err})", ctx, param
            ) from None
        if not isinstance(data, dict):
            raise click.BadParameter(
                f"{path}: expected a mapping of annotation text to label, got "
                f"{type(data).__name__}",
                ctx,
                param,
            )
        merged.update(data)
    try:
        return check_label_map(merged, "--label-map")
    except ValueError as err:  # the message already names --label-map
        raise click.UsageError(str(err), ctx) from None


def label_map_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--label-map TEXT=LABEL|FILE.yaml`` (repeatable), parsed into a checked dict."""
    return click.option(
        "--label-map",
        "label_map",
        multiple=True,
        metavar="TEXT=LABEL|FILE.yaml",
        callback=_parse_label_map,
        help=LABEL_MAP_HELP,
    )(func)

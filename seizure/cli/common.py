"""Options and helpers shared by the subcommands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from seizure.config import Config, load_config


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--config FILE`` (repeatable) and ``--set key=value`` (repeatable)."""
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
        type=click.Path(exists=True, dir_okay=False),
        help="YAML config file(s) from configs/, merged in order over the defaults (repeatable).",
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

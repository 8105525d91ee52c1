"""Options and helpers shared by the subcommands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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

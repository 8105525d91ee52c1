"""One configuration object for every command.

A :class:`Config` is a frozen dataclass made of one section per pipeline stage
(``preprocess``, ``synth``, ``model``, ``train``, ``evaluate``) plus a global ``seed``.
It is built in three layers, each overriding the one before::

    defaults (the dataclasses)  ->  YAML files (--config, in order)  ->  --set a.b=value

A YAML file is given by path or by the name of a config shipped with the package
(``seizure/configs/``, see :func:`resolve_config_path`): ``tcp_lfcc``, ``train/h100``,
``preprocess/tcp_lfcc.yaml``, or the repository path ``configs/train/h100.yaml``.

Unknown keys and values of the wrong type are rejected with a message naming the key,
what was found and what was expected. The resolved config is written beside every output
(``config.yaml``) and stored in every checkpoint, and :func:`fingerprint` of the
``preprocess`` section is recorded with each cache so that a model is never trained or
evaluated on a cache made with other preprocessing.

This module imports nothing heavy (no numpy, no torch) so that ``seizure --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from seizure.evaluation.config import EvaluateConfig
from seizure.models.config import ModelConfig
from seizure.preprocessing.config import PreprocessConfig
from seizure.synth.config import SynthConfig
from seizure.training.config import TrainConfig
from seizure.utils.errors import UsageError
from seizure.utils.fsio import atomic_write_text

__all__ = [
    "Config",
    "ConfigError",
    "apply_overrides",
    "fingerprint",
    "from_dict",
    "load_config",
    "resolve_config_path",
    "save_config",
    "shipped_configs",
    "to_dict",
]

_INT_LIMIT = 2**63

#: Field metadata key: a field marked ``{"omit_when_empty": True}`` is left out of
#: :func:`to_dict` (so of :func:`fingerprint`, ``config.yaml`` and checkpoints) while its value
#: is empty, so that adding such a setting changes no existing fingerprint or saved config.
OMIT_WHEN_EMPTY = "omit_when_empty"

#: Field metadata key: a field marked ``{"internal": True}`` is bookkeeping, not a setting: it is
#: never in :func:`to_dict` (so in no fingerprint, ``config.yaml`` or checkpoint) and
#: :func:`from_dict` does not accept it as a key.
INTERNAL = "internal"

T = TypeVar("T")


class ConfigError(UsageError, ValueError):
    """A configuration value or key is invalid (exit status 2; still a ``ValueError``)."""


@dataclass(frozen=True)
class Config:
    """The whole resolved configuration of a run.

    Parameters
    ----------
    seed : int
        Seed for every random number generator (numpy, torch, python).
    preprocess, synth, model, train, evaluate
        One section per pipeline stage; see each section's class for its fields.
        ``model.init.critical_xi: auto`` is replaced by ``train.sequence_windows`` here
        (:meth:`~seizure.models.config.ModelConfig.resolve_timescale`), again whenever the
        config is rebuilt (``dataclasses.replace`` with another ``train`` section).
    """

    seed: int = 0
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)

    def __post_init__(self) -> None:
        # model.init.critical_xi: auto follows the training sequence length, also in a config
        # rebuilt from a resolved one with another train section (dataclasses.replace)
        model = self.model.unresolve_timescale()
        object.__setattr__(self, "model", model.resolve_timescale(self.train.sequence_windows))


# --------------------------------------------------------------------------- conversion


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert it (lists -> tuples)."""
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key)
            except ConfigError as err:
                errors.append(str(err))
        if len(errors) == 1:
            raise ConfigError(errors[0])
        raise ConfigError(
            f"Invalid value for '{key}': expected {_type_name(tp)}, got {value!r} instead"
        )
    if origin is Literal:
        if value in args:
            return value
        allowed = ", ".join(repr(a) for a in args)
        raise ConfigError(
            f"Invalid value for '{key}': allowed values are {allowed}, got {value!r} instead"
        )
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"Invalid value for '{key}': expected a list, got {value!r} instead")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(
                f"Invalid value for '{key}': expected {len(args)} items, got {len(value)}"
            )
        return tuple(_convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"Invalid value for '{key}': expected a mapping, got {value!r} instead"
            )
        ktp, vtp = args if args else (str, Any)
        return {
            _convert(k, ktp, f"{key}.<key>"): _convert(v, vtp, f"{key}.{k}")
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"Invalid value for '{key}': expected a mapping of {tp.__name__} fields, "
                f"got {value!r} instead"
            )
        return from_dict(tp, value, prefix=key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"Invalid value for '{key}': expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if abs(value) < _INT_LIMIT:  # every integer setting ends in a C int64 somewhere
                return value
            raise ConfigError(
                f"Invalid value for '{key}': expected an integer of magnitude below 2**63, "
                f"got {value!r}"
            )
        raise ConfigError(f"Invalid value for '{key}': expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(value):  # no setting means anything at inf or nan
                return float(value)
            raise ConfigError(f"Invalid value for '{key}': expected a finite number, got {value!r}")
        raise ConfigError(f"Invalid value for '{key}': expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"Invalid value for '{key}': expected a string, got {value!r}")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"Invalid value for '{key}': expected {_type_name(tp)}, got {value!r}")


def from_dict(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Build the dataclass ``cls`` from a (possibly partial) mapping, checking every value.

    Parameters
    ----------
    cls : type
        A dataclass type.
    data : mapping
        Field values; missing fields take their defaults.
    prefix : str
        Dotted path of ``cls`` inside the whole config, used in error messages.

    Returns
    -------
    instance of ``cls``

    Raises
    ------
    ConfigError
        On an unknown key (the known ones are listed) or a value of the wrong type.
    """
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init and not f.metadata.get(INTERNAL)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        where = f" in '{prefix}'" if prefix else ""
        raise ConfigError(
            f"Unknown config key(s) {', '.join(repr(u) for u in unknown)}{where}; "
            f"known keys: {', '.join(names)}"
        )
    kwargs = {}
    for name in names:
        if name in data:
            key = f"{prefix}.{name}" if prefix else name
            kwargs[name] = _convert(data[name], hints[name], key)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"Invalid config{' ' + prefix if prefix else ''}: {err}") from err


def to_dict(obj: Any) -> Any:
    """Turn a config dataclass into plain YAML/JSON-serialisable python (tuples -> lists).

    Fields marked :data:`OMIT_WHEN_EMPTY` are left out while empty, those marked
    :data:`INTERNAL` always.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: to_dict(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not f.metadata.get(INTERNAL)
            and not (f.metadata.get(OMIT_WHEN_EMPTY) and not getattr(obj, f.name))
        }
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides to a nested dict; values are parsed as YAML.

    ``--set model.cell=gru``, ``--set train.epochs=3``, ``--set preprocess.bandpass_hz=[1,40]``.
    """
    out = dict(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                f"Invalid override {item!r}: expected key=value, for example train.epochs=3"
            )
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"Invalid override {item!r}: empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as err:
            raise ConfigError(f"Invalid override {item!r}: cannot parse value ({err})") from err
        nested: Any = value
        for part in reversed(key.split(".")):
            nested = {part: nested}
        out = _deep_merge(out, nested)
    return out


#: The configs shipped with the package, ``<section>/<name>.yaml`` (and ``demo.yaml``).
SHIPPED_CONFIG_DIR = Path(__file__).resolve().parent / "configs"

_YAML_SUFFIXES = (".yaml", ".yml")


def shipped_configs() -> list[str]:
    """Names of the configs shipped with the package, sorted.

    Returns
    -------
    list of str
        Paths relative to ``seizure/configs/`` without the ``.yaml`` suffix, e.g.
        ``["demo", "evaluate/default", ..., "train/h100", ...]``; each is a valid
        ``--config`` value.
    """
    if not SHIPPED_CONFIG_DIR.is_dir():
        return []
    return sorted(
        p.relative_to(SHIPPED_CONFIG_DIR).with_suffix("").as_posix()
        for p in SHIPPED_CONFIG_DIR.rglob("*")
        if p.suffix in _YAML_SUFFIXES and p.is_file()
    )


def _shipped_name(spec: str) -> tuple[str, ...] | None:
    """Split ``spec`` into the parts of a shipped config name (None when it cannot be one).

    An absolute path, or one that climbs with ``..``, cannot. A leading ``configs/`` (the
    repository's path of the shipped configs) is dropped.
    """
    text = spec.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return None
    parts = tuple(p for p in text.split("/") if p not in ("", "."))
    if not parts or ".." in parts:
        return None
    if parts[0] == "configs" and len(parts) > 1:
        parts = parts[1:]
    if Path(parts[-1]).suffix not in _YAML_SUFFIXES:
        parts = (*parts[:-1], parts[-1] + ".yaml")
    return parts


def resolve_config_path(spec: str | Path) -> Path:
    """Find the YAML file that a ``--config`` value names.

    Tried in order:

    1. a file at ``spec`` (relative to the working directory, or absolute);
    2. a shipped config (:func:`shipped_configs`) at ``spec`` relative to ``seizure/configs/``,
       the ``.yaml`` suffix optional and a leading ``configs/`` dropped: ``train/h100``,
       ``preprocess/tcp_lfcc.yaml`` and ``configs/train/h100.yaml`` all name a shipped file,
       so the repository paths in the documentation work wherever the package is installed;
    3. a bare name (no ``/``) looked up in every section: ``tcp_lfcc`` is
       ``preprocess/tcp_lfcc.yaml``; a name found in several sections (``default``) is refused.

    Parameters
    ----------
    spec : str or Path
        A file path or a shipped config name.

    Returns
    -------
    Path
        An existing file.

    Raises
    ------
    ConfigError
        ``spec`` is a directory, an ambiguous bare name (the message lists the candidates),
        or neither a file nor a shipped config (the message lists the shipped configs).
    """
    path = Path(spec)
    if path.is_file():
        return path
    if path.is_dir():
        raise ConfigError(f"Config file {str(spec)!r} is a directory, not a YAML file")
    parts = _shipped_name(str(spec))
    if parts is not None:
        candidate = SHIPPED_CONFIG_DIR.joinpath(*parts)
        if candidate.is_file():
            return candidate
        if len(parts) == 1:
            stem = Path(parts[0]).stem
            matches = [name for name in shipped_configs() if name.rsplit("/", 1)[-1] == stem]
            if len(matches) == 1:
                return SHIPPED_CONFIG_DIR / f"{matches[0]}.yaml"
            if matches:
                raise ConfigError(
                    f"Config name {str(spec)!r} is ambiguous: it names "
                    f"{', '.join(matches)}; give the section too, e.g. --config {matches[0]}"
                )
    raise ConfigError(
        f"Config file {str(spec)!r} does not exist and is not the name of a shipped config; "
        f"shipped configs: {', '.join(shipped_configs())}"
    )


def load_config(
    paths: Sequence[str | Path] | str | Path | None = None,
    overrides: Sequence[str] = (),
    base: Mapping[str, Any] | None = None,
) -> Config:
    """Resolve a :class:`Config` from defaults, YAML files and ``key=value`` overrides.

    Parameters
    ----------
    paths : path or sequence of paths, optional
        YAML files, merged in order, each a path or a shipped config name
        (:func:`resolve_config_path`). Each holds any subset of the sections
        (``preprocess:``, ``model:``, ...) and ``seed``.
    overrides : sequence of str
        ``section.key=value`` strings applied last.
    base : mapping, optional
        A resolved config dict to start from (e.g. the one stored in a checkpoint).

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        A file that cannot be found (:func:`resolve_config_path`) or read, an unknown key,
        or a value of the wrong type.
    """
    if paths is None:
        paths = []
    elif isinstance(paths, (str, Path)):
        paths = [paths]
    data: dict[str, Any] = dict(base or {})
    for path in paths:
        path = resolve_config_path(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"Config file {str(path)!r} is not valid YAML: {err}") from err
        except UnicodeDecodeError as err:
            raise ConfigError(
                f"Config file {str(path)!r} is not UTF-8 text ({err.reason} at byte "
                f"{err.start}); save it as UTF-8"
            ) from err
        except OSError as err:
            raise ConfigError(f"Config file {str(path)!r} cannot be read: {err}") from err
        if not isinstance(loaded, Mapping):
            raise ConfigError(
                f"Config file {str(path)!r} must hold a mapping of sections, got "
                f"{type(loaded).__name__}"
            )
        data = _deep_merge(data, loaded)
    data = apply_overrides(data, overrides)
    return from_dict(Config, data)


def save_config(config: Any, path: str | Path) -> None:
    """Write a config (any config dataclass) as YAML, atomically."""
    atomic_write_text(Path(path), yaml.safe_dump(to_dict(config), sort_keys=False))


def fingerprint(section: Any) -> str:
    """Return a short stable hash of a config section (16 hex digits of sha256 of its JSON)."""
    blob = json.dumps(to_dict(section), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]

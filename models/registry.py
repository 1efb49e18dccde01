"""Registry of named anomaly models.

A model is a *spec*: a registered name, the version of its factory, and
JSON-serialisable parameters. Only names, parameters and learned *data* ever travel
(control messages, snapshots); code never does. Models come from this package or from
any installed distribution that declares an entry point in the ``scrapeguard.models``
group pointing at a :class:`ModelEntry`.

An entry declares, besides its defaults, the range of every numeric parameter (a
signed control message with a value outside it is refused before anything is built)
and the exact classes its learned state may contain (:class:`models.state.Allowlist`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from models.base import Scorer
from models.state import Allowlist, StateRefused
from models.state_decoder import load

ENTRY_POINT_GROUP = "scrapeguard.models"

JsonScalar = bool | int | float | str | None


class UnknownModel(LookupError):
    """No model of that name is registered."""


class InvalidParams(ValueError):
    """Parameters do not fit the model's declared parameters."""


@dataclass(frozen=True)
class ModelSpec:
    """What identifies a live model: name, version and parameters."""

    name: str
    version: str
    params: Mapping[str, JsonScalar] = field(default_factory=dict)

    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        return cls(str(data["name"]), str(data["version"]), dict(data.get("params") or {}))


@dataclass(frozen=True)
class ModelEntry:
    """A registered factory with its version and default parameters.

    ``defaults`` declares every parameter the factory accepts; a parameter that is
    not declared, or whose JSON type differs from its default's, is refused.
    ``ranges`` bounds each numeric parameter (inclusive); a numeric parameter without
    a declared range only ever takes its default. ``state`` lists the classes and
    functions a snapshot of this model may contain (see :mod:`models.state`).
    """

    name: str
    version: str
    factory: Callable[..., Scorer]
    defaults: Mapping[str, JsonScalar]
    description: str = ""
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    state: Allowlist = field(default_factory=Allowlist)

    def __post_init__(self) -> None:
        for key, (low, high) in self.ranges.items():
            default = self.defaults.get(key)
            if key not in self.defaults or isinstance(default, bool):
                raise ValueError(f"model {self.name!r}: range for unknown parameter {key!r}")
            if not isinstance(default, int | float) or not low <= default <= high:
                raise ValueError(
                    f"model {self.name!r}: default {key}={default!r} is outside [{low}, {high}]"
                )

    def validate(self, params: Mapping[str, Any] | None) -> dict[str, JsonScalar]:
        merged: dict[str, JsonScalar] = dict(self.defaults)
        for key, value in (params or {}).items():
            if key not in self.defaults:
                raise InvalidParams(
                    f"model {self.name!r} has no parameter {key!r}; "
                    f"it takes: {', '.join(sorted(self.defaults)) or 'none'}"
                )
            merged[key] = _coerce(self.name, key, value, self.defaults[key])
            self._check_range(key, merged[key])
        return merged

    def _check_range(self, key: str, value: JsonScalar) -> None:
        default = self.defaults[key]
        if isinstance(default, bool) or not isinstance(default, int | float):
            return
        assert isinstance(value, int | float)
        bounds = self.ranges.get(key)
        if bounds is None:
            if value != default:
                raise InvalidParams(
                    f"parameter {key!r} of model {self.name!r} has no declared range: "
                    f"only its default {default!r} is accepted"
                )
            return
        low, high = bounds
        if not low <= value <= high:
            raise InvalidParams(
                f"parameter {key!r} of model {self.name!r} must be within "
                f"[{low:g}, {high:g}], got {value!r}"
            )

    def from_state(self, state: Any) -> Scorer:
        """Rebuild a scorer from its state (:func:`models.base.state_of`), only from the
        declared classes.

        Raises :class:`models.state.StateRefused` for anything else.
        """
        scorer = load(state, self.state)
        if not isinstance(scorer, Scorer):
            raise StateRefused(f"state of model {self.name!r} does not hold a scorer")
        return scorer

    def spec(self, params: Mapping[str, Any] | None = None) -> ModelSpec:
        return ModelSpec(self.name, self.version, self.validate(params))

    def build(self, params: Mapping[str, Any] | None = None) -> Scorer:
        return self.factory(**self.validate(params))


def _coerce(model: str, key: str, value: Any, default: JsonScalar) -> JsonScalar:
    bad = InvalidParams(
        f"parameter {key!r} of model {model!r} must be {type(default).__name__}, got {value!r}"
    )
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        if not math.isfinite(float(value)):
            raise bad
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise bad
        return value
    if not isinstance(value, bool | int | float | str) and value is not None:
        raise bad
    return value


class Registry:
    """Name → :class:`ModelEntry`. The module-level :data:`REGISTRY` is the default."""

    def __init__(self) -> None:
        self._entries: dict[str, ModelEntry] = {}
        self._plugins_loaded = False

    def register(self, entry: ModelEntry) -> ModelEntry:
        existing = self._entries.get(entry.name)
        if existing is not None and existing is not entry:
            raise ValueError(f"a model named {entry.name!r} is already registered")
        self._entries[entry.name] = entry
        return entry

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            entry = ep.load()
            if not isinstance(entry, ModelEntry):
                raise TypeError(
                    f"entry point {ep.name!r} in group {ENTRY_POINT_GROUP!r} must point at a "
                    f"models.registry.ModelEntry, got {type(entry).__name__}"
                )
            if entry.name not in self._entries:
                self.register(entry)

    def get(self, name: str) -> ModelEntry:
        self._load_plugins()
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownModel(f"no model named {name!r} is registered (known: {known})") from None

    def build(self, spec: ModelSpec) -> Scorer:
        entry = self.get(spec.name)
        if entry.version != spec.version:
            raise UnknownModel(
                f"model {spec.name!r} is registered at version {entry.version}, not {spec.version}"
            )
        return entry.build(spec.params)

    def __iter__(self) -> Iterator[ModelEntry]:
        self._load_plugins()
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._entries


REGISTRY = Registry()


def register(entry: ModelEntry) -> ModelEntry:
    """Register ``entry`` in the default registry (one line per model module)."""
    return REGISTRY.register(entry)

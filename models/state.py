"""Learned model state as plain data, rebuilt only from classes a model declares.

A model snapshot travels through Kafka, so whoever can write that topic (or holds a
leaked snapshot key) chooses its bytes. Pickle would let those bytes name any callable;
this format cannot. :func:`dump` walks a model's object graph and keeps only data —
numbers, strings, bools, None, lists, dicts, tuples and sets (tagged), bytes and arrays
(tagged base64) — plus *references* to classes and functions by ``(module, qualified
name)``. :func:`models.state_decoder.load` rebuilds the graph and:

* resolves a class or function only when its exact ``(module, qualified name)`` is on
  the :class:`Allowlist` the model declares in its registry entry (dotted qualified
  names, aliases such as ``river.datasets.base.os`` and anything unknown are refused);
* builds an object with ``cls.__new__(cls)`` and sets its attributes with
  ``obj.__dict__.update(...)`` (or the class's own slot descriptors) — never
  ``__setstate__``, ``__reduce__``, ``__init__`` or any other code chosen by the data;
* refuses dunder attribute names, and bounds depth, node count and string sizes.

A few types keep their state in C and have a fixed codec here (``random.Random``,
River's ``VectorDict``): their data is validated and handed to the type's own
constructor or ``setstate`` — they too must be on the model's allowlist.
Shared references and cycles survive (River pipelines hold their steps twice).
"""

from __future__ import annotations

import array
import base64
import collections
import contextlib
import functools
import gc
import math
import random
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

FORMAT = "scrapeguard-state/1"

Name = tuple[str, str]


class StateRefused(ValueError):
    """The state names something the model did not declare, or is malformed or too big."""


@dataclass(frozen=True)
class Allowlist:
    """Exactly which classes (and functions) a model's state may contain."""

    classes: frozenset[Name] = field(default_factory=frozenset)
    functions: frozenset[Name] = field(default_factory=frozenset)

    @classmethod
    def of(cls, *objects: type | Callable[..., Any]) -> Allowlist:
        """An allowlist of these classes and functions (by their module and qualname)."""
        classes: set[Name] = set()
        funcs: set[Name] = set()
        for obj in objects:
            name = (obj.__module__, obj.__qualname__)
            (classes if isinstance(obj, type) else funcs).add(name)
        return cls(frozenset(classes), frozenset(funcs))

    def __or__(self, other: Allowlist) -> Allowlist:
        return Allowlist(self.classes | other.classes, self.functions | other.functions)


# -- codecs for types that keep their state in C ---------------------------------------
@dataclass(frozen=True)
class Codec:
    encode: Callable[[Any], Any]  # object -> plain data (encoded recursively)
    decode: Callable[[type, Any], Any]  # (class, decoded plain data) -> object


def _random_encode(r: random.Random) -> Any:
    version, internal, gauss = r.getstate()
    return [version, list(internal), gauss]


def _random_decode(cls: Any, data: Any) -> random.Random:
    if not (isinstance(data, list) and len(data) == 3):
        raise StateRefused("random state: expected [version, state, gauss]")
    version, internal, gauss = data
    if (
        version != 3
        or not isinstance(internal, list)
        or len(internal) != 625
        or not all(type(v) is int and 0 <= v < 2**32 for v in internal)
        or internal[-1] > 624
        or not (gauss is None or type(gauss) is float)
    ):
        raise StateRefused("random state: not a Mersenne Twister state")
    r: random.Random = cls.__new__(cls)
    random.Random.__init__(r, 0)
    r.setstate((3, tuple(internal), gauss))
    return r


def _vectordict_encode(v: Any) -> Any:
    return dict(v.to_dict())


def _vectordict_decode(cls: type, data: Any) -> Any:
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and type(v) in (int, float) for k, v in data.items()
    ):
        raise StateRefused("vector dict: expected names to numbers")
    return cls(data)


CODECS: dict[Name, Codec] = {
    ("random", "Random"): Codec(_random_encode, _random_decode),
    ("river._river_rust.vectordict", "VectorDict"): Codec(_vectordict_encode, _vectordict_decode),
}


def name_of(obj: Any) -> Name:
    return (obj.__module__, obj.__qualname__)


def slots_of(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for s in (slots,) if isinstance(slots, str) else slots:
            if s not in ("__dict__", "__weakref__") and s not in names:
                names.append(s)
    return names


# -- encoding ---------------------------------------------------------------------------
class _Encoder:
    def __init__(self) -> None:
        self.names: list[Name] = []
        self.name_index: dict[Name, int] = {}
        self.memo: dict[int, int] = {}
        self.keep: list[Any] = []  # keeps encoded objects alive, so ids are not reused
        self.shapes: dict[type, tuple[Codec | None, list[str]]] = {}
        self.attr_ok: set[str] = set()

    def name(self, obj: Any) -> int:
        name = name_of(obj)
        if "<" in name[1] or "." in name[1]:
            raise TypeError(f"cannot snapshot {name[0]}.{name[1]}: not a top-level name")
        idx = self.name_index.get(name)
        if idx is None:
            idx = self.name_index[name] = len(self.names)
            self.names.append(name)
        return idx

    def ref(self, obj: Any) -> dict[str, Any] | None:
        n = self.memo.get(id(obj))
        return None if n is None else {"$ref": n}

    def mark(self, obj: Any, out: dict[str, Any]) -> dict[str, Any]:
        out["#"] = self.memo[id(obj)] = len(self.memo)
        self.keep.append(obj)
        return out

    def enc(self, obj: Any) -> Any:
        t = type(obj)
        if obj is None or t is bool or t is str:
            return obj
        if t is int:
            return obj if -(2**63) <= obj < 2**63 else {"$i": str(obj)}
        if t is float:
            return obj if math.isfinite(obj) else {"$f": repr(obj)}
        if t is tuple:
            return {"$t": [self.enc(v) for v in obj]}
        if t is frozenset:
            return {"$fs": [self.enc(v) for v in obj]}
        if t is bytes:
            return {"$b": base64.b64encode(obj).decode()}
        if isinstance(obj, type | types.FunctionType | types.BuiltinFunctionType):
            return {"$fn": self.name(obj)}
        if t is functools.partial:
            return {"$p": [self.enc(obj.func), self.enc(obj.args), self.enc(obj.keywords)]}
        seen = self.ref(obj)
        if seen is not None:
            return seen
        if t is list:
            out = self.mark(obj, {})
            out["$l"] = [self.enc(v) for v in obj]
            return out
        if t in (dict, collections.OrderedDict, collections.Counter, collections.defaultdict):
            tag = {
                dict: "$d",
                collections.OrderedDict: "$od",
                collections.Counter: "$ctr",
                collections.defaultdict: "$dd",
            }[t]
            out = self.mark(obj, {})
            if t is collections.defaultdict:
                out["f"] = self.enc(obj.default_factory)
            out[tag] = self.items(obj)
            return out
        if t is set:
            out = self.mark(obj, {})
            out["$set"] = [self.enc(v) for v in obj]
            return out
        if t is collections.deque:
            out = self.mark(obj, {})
            out["$dq"] = [[self.enc(v) for v in obj], obj.maxlen]
            return out
        if t is bytearray:
            return self.mark(obj, {"$ba": base64.b64encode(bytes(obj)).decode()})
        if t is array.array:
            out = self.mark(obj, {})
            out["$arr"] = [obj.typecode, base64.b64encode(obj.tobytes()).decode()]
            return out
        shape = self.shapes.get(t)
        if shape is None:
            shape = self.shapes[t] = (CODECS.get(name_of(t)), slots_of(t))
        codec, slots = shape
        if codec is not None:
            out = self.mark(obj, {"$x": self.name(t)})
            out["v"] = self.enc(codec.encode(obj))
            return out
        return self.instance(obj, t, slots)

    def items(self, d: dict[Any, Any]) -> Any:
        if all(type(k) is str for k in d):
            return {k: self.enc(v) for k, v in d.items()}
        return [[self.enc(k), self.enc(v)] for k, v in d.items()]

    def instance(self, obj: Any, t: type, slots: list[str]) -> dict[str, Any]:
        attrs = getattr(obj, "__dict__", None)
        if attrs is None and not slots:
            raise TypeError(f"cannot snapshot a {t.__module__}.{t.__qualname__}: no data")
        out = self.mark(obj, {"$o": self.name(t)})
        if attrs is not None:
            out["a"] = {self.attr(k, t): self.enc(v) for k, v in attrs.items()}
        if slots:
            out["s"] = {
                self.attr(s, t): self.enc(getattr(obj, s)) for s in slots if hasattr(obj, s)
            }
        return out

    def attr(self, name: str, t: type) -> str:
        if name in self.attr_ok:
            return name
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("__"):
            raise TypeError(f"cannot snapshot attribute {name!r} of {t.__qualname__}")
        self.attr_ok.add(name)
        return name


def dump(obj: Any) -> dict[str, Any]:
    """The state of ``obj`` as JSON-able data (see the module docstring)."""
    enc = _Encoder()
    with no_gc():
        root = enc.enc(obj)
    return {"format": FORMAT, "names": [list(n) for n in enc.names], "root": root}


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Thousands of small objects at once: the cyclic collector would run many times
    over a graph that is all alive (this halves the time of a snapshot)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

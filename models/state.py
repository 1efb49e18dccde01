"""Learned model state as plain data, rebuilt only from classes a model declares.

A model snapshot travels through Kafka, so whoever can write that topic (or holds a
leaked snapshot key) chooses its bytes. Pickle would let those bytes name any callable;
this format cannot. :func:`dump` walks a model's object graph and keeps only data —
numbers, strings, bools, None, lists, dicts, tuples and sets (tagged), bytes and arrays
(tagged base64) — plus *references* to classes and functions by ``(module, qualified
name)``. :func:`load` rebuilds the graph and:

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
import importlib
import math
import random
import re
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

FORMAT = "scrapeguard-state/1"
MAX_DEPTH = 200
MAX_NODES = 5_000_000
MAX_STR = 1 << 20
MAX_INT_DIGITS = 1000

Name = tuple[str, str]

_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ARRAY_TYPECODES = frozenset("bBhHiIlLqQfd")
_INT = re.compile(rf"-?[0-9]{{1,{MAX_INT_DIGITS}}}")

#: callables that may appear without being declared (default factories, partials):
#: calling them with data builds data, nothing else
SAFE_BUILTINS: frozenset[Name] = frozenset(
    ("builtins", n) for n in ("float", "int", "bool", "str", "tuple", "list", "dict", "set",
                              "frozenset")
)


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


def _name_of(obj: Any) -> Name:
    return (obj.__module__, obj.__qualname__)


def _slots_of(cls: type) -> list[str]:
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
        name = _name_of(obj)
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
            shape = self.shapes[t] = (CODECS.get(_name_of(t)), _slots_of(t))
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
    with _no_gc():
        root = enc.enc(obj)
    return {"format": FORMAT, "names": [list(n) for n in enc.names], "root": root}


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Thousands of small objects at once: the cyclic collector would run many times
    over a graph that is all alive (this halves the time of a snapshot)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# -- decoding ---------------------------------------------------------------------------
class _Decoder:
    def __init__(self, names: list[Name], allow: Allowlist, max_nodes: int) -> None:
        self.names = names
        self.allow = allow
        self.memo: list[Any] = []
        self.nodes = 0
        self.max_nodes = max_nodes
        self._resolved: dict[int, Any] = {}
        self._slots: dict[type, list[str]] = {}
        self._attr_ok: set[str] = set()

    # names -----------------------------------------------------------------------------
    def resolve(self, idx: Any, want_class: bool) -> Any:
        if type(idx) is not int or not 0 <= idx < len(self.names):
            raise StateRefused(f"unknown name reference {idx!r}")
        name = self.names[idx]
        allowed = name in self.allow.classes or (
            not want_class and (name in self.allow.functions or name in SAFE_BUILTINS)
        )
        if not allowed:
            raise StateRefused(f"state refers to {name[0]}.{name[1]}, which is not allowed")
        if idx in self._resolved:
            return self._resolved[idx]
        module, qualname = name
        try:
            obj = getattr(importlib.import_module(module), qualname)
        except (ImportError, AttributeError) as exc:
            raise StateRefused(f"state refers to {module}.{qualname}: {exc}") from None
        if getattr(obj, "__module__", None) != module or getattr(obj, "__qualname__", None) != (
            qualname
        ):
            raise StateRefused(f"{module}.{qualname} is an alias, not the declared name")
        if want_class and not isinstance(obj, type):
            raise StateRefused(f"{module}.{qualname} is not a class")
        self._resolved[idx] = obj
        return obj

    # values ----------------------------------------------------------------------------
    def register(self, doc: dict[str, Any], obj: Any) -> Any:
        n = doc.get("#")
        if n != len(self.memo):
            raise StateRefused(f"object number {n!r} out of sequence")
        self.memo.append(obj)
        return obj

    def dec(self, doc: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise StateRefused(f"state has more than {self.max_nodes} values")
        if depth > MAX_DEPTH:
            raise StateRefused(f"state is nested deeper than {MAX_DEPTH}")
        t = type(doc)
        if doc is None or t in (bool, int, float):
            return doc
        if t is str:
            if len(doc) > MAX_STR:
                raise StateRefused("string too long")
            return doc
        if t is not dict:
            raise StateRefused(f"unexpected {t.__name__} in state")
        d = depth + 1
        if "$ref" in doc:
            n = doc["$ref"]
            if type(n) is not int or not 0 <= n < len(self.memo) or len(doc) != 1:
                raise StateRefused(f"bad reference {n!r}")
            return self.memo[n]
        if "$t" in doc:
            return tuple(self.seq(doc["$t"], d))
        if "$fs" in doc:
            return frozenset(self.hashable(self.seq(doc["$fs"], d)))
        if "$f" in doc:
            text = doc["$f"]
            if text not in ("inf", "-inf", "nan"):
                raise StateRefused(f"bad float {text!r}")
            return float(text)
        if "$i" in doc:
            text = doc["$i"]
            if type(text) is not str or not _INT.fullmatch(text):
                raise StateRefused("bad integer")
            return int(text)
        if "$b" in doc:
            return self.b64(doc["$b"])
        if "$fn" in doc:
            return self.resolve(doc["$fn"], want_class=False)
        if "$p" in doc:
            parts = doc["$p"]
            if type(parts) is not list or len(parts) != 3:
                raise StateRefused("bad partial")
            func = self.dec(parts[0], d)
            if not callable(func) or type(func) is functools.partial:
                raise StateRefused("a partial must wrap a declared function")
            args, kwargs = self.dec(parts[1], d), self.dec(parts[2], d)
            if type(args) is not tuple or type(kwargs) is not dict:
                raise StateRefused("bad partial arguments")
            if not all(type(k) is str for k in kwargs):
                raise StateRefused("bad partial keywords")
            return functools.partial(func, *args, **kwargs)
        if "$l" in doc:
            out: list[Any] = self.register(doc, [])
            out.extend(self.seq(doc["$l"], d))
            return out
        for tag, kind in (
            ("$d", dict),
            ("$od", collections.OrderedDict),
            ("$ctr", collections.Counter),
        ):
            if tag in doc:
                m = self.register(doc, kind())
                self.fill(m, doc[tag], d)
                return m
        if "$dd" in doc:
            m = self.register(doc, collections.defaultdict())
            factory = self.dec(doc.get("f"), d)
            if factory is not None and not callable(factory):
                raise StateRefused("bad default factory")
            m.default_factory = factory
            self.fill(m, doc["$dd"], d)
            return m
        if "$set" in doc:
            s: set[Any] = self.register(doc, set())
            s.update(self.hashable(self.seq(doc["$set"], d)))
            return s
        if "$dq" in doc:
            body = doc["$dq"]
            if type(body) is not list or len(body) != 2:
                raise StateRefused("bad deque")
            maxlen = body[1]
            if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
                raise StateRefused("bad deque length")
            q: collections.deque[Any] = self.register(doc, collections.deque(maxlen=maxlen))
            q.extend(self.seq(body[0], d))
            return q
        if "$ba" in doc:
            return self.register(doc, bytearray(self.b64(doc["$ba"])))
        if "$arr" in doc:
            body = doc["$arr"]
            if type(body) is not list or len(body) != 2 or body[0] not in _ARRAY_TYPECODES:
                raise StateRefused("bad array")
            arr = array.array(body[0])
            raw = self.b64(body[1])
            if len(raw) % arr.itemsize:
                raise StateRefused("bad array length")
            arr.frombytes(raw)
            return self.register(doc, arr)
        if "$x" in doc:
            cls = self.resolve(doc["$x"], want_class=True)
            codec = CODECS.get(_name_of(cls))
            if codec is None:
                raise StateRefused(f"no codec for {cls.__qualname__}")
            slot = len(self.memo)
            self.register(doc, None)
            try:
                obj = codec.decode(cls, self.dec(doc.get("v"), d))
            except StateRefused:
                raise
            except Exception as exc:  # the type's own validation
                raise StateRefused(f"bad {cls.__qualname__} state: {exc}") from None
            self.memo[slot] = obj
            return obj
        if "$o" in doc:
            return self.instance(doc, d)
        raise StateRefused(f"unknown tag in {sorted(doc)[:3]}")

    def seq(self, items: Any, depth: int) -> Iterable[Any]:
        if type(items) is not list:
            raise StateRefused("expected a list")
        return [self.dec(v, depth) for v in items]

    @staticmethod
    def hashable(items: Iterable[Any]) -> list[Any]:
        out = list(items)
        for v in out:
            try:
                hash(v)
            except TypeError:
                raise StateRefused("unhashable set member") from None
        return out

    def fill(self, m: dict[Any, Any], items: Any, depth: int) -> None:
        if type(items) is dict:
            for k, v in items.items():
                m[k] = self.dec(v, depth)
            return
        if type(items) is not list:
            raise StateRefused("bad mapping")
        for pair in items:
            if type(pair) is not list or len(pair) != 2:
                raise StateRefused("bad mapping item")
            key = self.dec(pair[0], depth)
            self.hashable([key])
            m[key] = self.dec(pair[1], depth)

    @staticmethod
    def b64(text: Any) -> bytes:
        if type(text) is not str or len(text) > 4 * MAX_STR:
            raise StateRefused("bad base64")
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            raise StateRefused("bad base64") from None

    def instance(self, doc: dict[str, Any], depth: int) -> Any:
        cls = self.resolve(doc["$o"], want_class=True)
        try:
            obj = cls.__new__(cls)
        except TypeError as exc:
            raise StateRefused(f"cannot rebuild {cls.__qualname__}: {exc}") from None
        self.register(doc, obj)
        attrs, slots = doc.get("a"), doc.get("s")
        if attrs is not None:
            if type(attrs) is not dict or not hasattr(obj, "__dict__"):
                raise StateRefused(f"{cls.__qualname__} takes no attributes")
            attr = self.attr
            values = {attr(k): self.dec(v, depth) for k, v in attrs.items()}
            obj.__dict__.update(values)
        if slots is not None:
            if type(slots) is not dict:
                raise StateRefused("bad slots")
            declared = self._slots.get(cls)
            if declared is None:
                declared = self._slots[cls] = _slots_of(cls)
            for k, v in slots.items():
                if self.attr(k) not in declared:
                    raise StateRefused(f"{cls.__qualname__} has no slot {k!r}")
                descriptor = next(
                    c.__dict__[k] for c in cls.__mro__ if k in c.__dict__
                )
                if not isinstance(descriptor, types.MemberDescriptorType):
                    raise StateRefused(f"{cls.__qualname__}.{k} is not a plain slot")
                descriptor.__set__(obj, self.dec(v, depth))
        return obj

    def attr(self, name: Any) -> str:
        if name in self._attr_ok:
            return str(name)
        if type(name) is not str or not name.isidentifier() or name.startswith("__"):
            raise StateRefused(f"attribute name {name!r} is not allowed")
        self._attr_ok.add(name)
        return name


def load(state: Any, allow: Allowlist, *, max_nodes: int = MAX_NODES) -> Any:
    """Rebuild what :func:`dump` wrote, resolving only ``allow``. Raises :class:`StateRefused`."""
    if type(state) is not dict or state.get("format") != FORMAT:
        raise StateRefused(f"not a model state of format {FORMAT}")
    raw_names = state.get("names")
    if type(raw_names) is not list or len(raw_names) > 10_000:
        raise StateRefused("bad name table")
    names: list[Name] = []
    for n in raw_names:
        if (
            type(n) is not list
            or len(n) != 2
            or not all(type(p) is str for p in n)
            or not _MODULE.fullmatch(n[0])
            or not n[1].isidentifier()
        ):
            raise StateRefused(f"name {n!r} is not a (module, top-level name) pair")
        names.append((n[0], n[1]))
    decoder = _Decoder(names, allow, max_nodes)
    try:
        with _no_gc():
            return decoder.dec(state.get("root"), 0)
    except RecursionError:
        raise StateRefused("state is nested too deeply") from None

"""Rebuilding model state from the data :func:`models.state.dump` wrote — the side an
attacker who can write the snapshot topic talks to.

:func:`load` resolves a class or function only when its exact ``(module, qualified
name)`` is on the model's :class:`~models.state.Allowlist`, builds objects without
running any code the data chooses, and bounds depth, node count and string sizes (the
format and its rules: :mod:`models.state`). Anything else raises
:class:`~models.state.StateRefused`.
"""

from __future__ import annotations

import array
import base64
import collections
import functools
import importlib
import re
import types
from collections.abc import Iterable
from typing import Any

from models.state import (
    CODECS,
    FORMAT,
    Allowlist,
    Name,
    StateRefused,
    name_of,
    no_gc,
    slots_of,
)

MAX_DEPTH = 200
MAX_NODES = 5_000_000
MAX_STR = 1 << 20
MAX_INT_DIGITS = 1000

MODULE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
ARRAY_TYPECODES = frozenset("bBhHiIlLqQfd")
INT_PATTERN = re.compile(rf"-?[0-9]{{1,{MAX_INT_DIGITS}}}")

#: callables that may appear without being declared (default factories, partials):
#: calling them with data builds data, nothing else
SAFE_BUILTINS: frozenset[Name] = frozenset(
    ("builtins", n)
    for n in ("float", "int", "bool", "str", "tuple", "list", "dict", "set", "frozenset")
)


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
            if type(text) is not str or not INT_PATTERN.fullmatch(text):
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
            if type(body) is not list or len(body) != 2 or body[0] not in ARRAY_TYPECODES:
                raise StateRefused("bad array")
            arr = array.array(body[0])
            raw = self.b64(body[1])
            if len(raw) % arr.itemsize:
                raise StateRefused("bad array length")
            arr.frombytes(raw)
            return self.register(doc, arr)
        if "$x" in doc:
            cls = self.resolve(doc["$x"], want_class=True)
            codec = CODECS.get(name_of(cls))
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
                declared = self._slots[cls] = slots_of(cls)
            for k, v in slots.items():
                if self.attr(k) not in declared:
                    raise StateRefused(f"{cls.__qualname__} has no slot {k!r}")
                descriptor = next(c.__dict__[k] for c in cls.__mro__ if k in c.__dict__)
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
            or not MODULE_PATTERN.fullmatch(n[0])
            or not n[1].isidentifier()
        ):
            raise StateRefused(f"name {n!r} is not a (module, top-level name) pair")
        names.append((n[0], n[1]))
    decoder = _Decoder(names, allow, max_nodes)
    try:
        with no_gc():
            return decoder.dec(state.get("root"), 0)
    except RecursionError:
        raise StateRefused("state is nested too deeply") from None

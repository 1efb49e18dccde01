"""Ground-truth labels: reading a labels file and matching its ids to the run's actors.

A labels file has one ``id label`` per line (whitespace or one comma between them), with
blank lines, ``#`` comments and an optional header line (``id,label``, ``session_id
class``, …). ``human`` and every ``human_*`` label are people, every ``allowlisted_*``
label must never be acted on (in any case), every other label is a kind of bot.

A header may name more than two columns (a CSV of ``ip,user_agent,label``): the id is
the first column named as an id, the label the column named ``label`` (``labels``,
``class``, ``category``), else a question (``is_bot``, …), else ``type`` or ``kind``. A label column
named as a question (``is_bot``, ``bot``, ``is_human``, …) may hold ``1``/``0``,
``true``/``false`` or ``yes``/``no``: read as ``bot`` or ``human`` by its name, so that
a file of 0s and 1s is not read as all bots (``0`` is no word for a person). Such values
under no header, or under a header that does not say which way they point, are an error,
and so is any other value under a question.

An id is an actor key as the worker writes it (``account:42``, ``session:abc``,
``ip:198.51.100.7``) or, as in public datasets, a bare identifier. :func:`resolve`
matches each id to an actor that exists in the run:

1. the exact actor key;
2. else ``session:ID``, ``account:ID`` or ``ip:ID`` — when exactly one of them exists
   (two existing is *ambiguous*: reported, not used);
3. else, for an id with a numeric sub-session suffix (``abc_0``, ``abc_1``: a dataset that
   splits one visitor's traffic into sessions), its base id by the same two steps. Several
   ids meeting on one actor must agree on the label, or the actor is *conflicting*:
   reported, not used.

Ids that match nothing are listed, never silently dropped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stream.harness.terminal_text import shown

SCOPES = ("session", "account", "ip")
HEADER_IDS = frozenset(
    {"id", "actor", "key", "session", "session_id", "sessionid", "ip", "account", "account_id"}
    | {"user_id", "userid"}
)
HEADER_LABELS = frozenset({"label", "labels", "class", "category", "type", "kind"})
# which column is the label when a header names several: these first, then a question
# (is_bot, is_human, …), then a bare bot/human beside a named id, then type or kind
FIRST_LABELS = ("label", "labels", "class", "category")
# label columns that ask a question: their yes means a bot, or a person. The bare words
# (bot, human) are also labels: a line "a1 human" is data, so they name a column only in a
# header whose id column is named too ("session_id,bot")
BOT_COLUMNS = frozenset({"is_bot", "isbot", "is_robot", "is_crawler", "is_scraper"})
PERSON_COLUMNS = frozenset({"is_human", "ishuman", "is_person"})
BARE_QUESTIONS = {"bot": True, "robot": True, "human": False, "person": False}
YES = frozenset({"1", "true", "yes", "y", "t"})
NO = frozenset({"0", "false", "no", "n", "f"})
_SUFFIX = re.compile(r"^(?P<base>.+)_(?P<n>\d{1,3})$")


def is_person(label: str) -> bool:
    low = label.lower()  # a dataset's "Human" is a person too
    return low == "human" or low.startswith("human_")


def is_allowlisted(label: str) -> bool:
    return label.lower().startswith("allowlisted")


def is_bot(label: str) -> bool:
    return not (is_person(label) or is_allowlisted(label))


def kind_of(label: str) -> str:
    return "person" if is_person(label) else "allowlisted" if is_allowlisted(label) else "bot"


def _split(line: str) -> list[str]:
    if "," in line:
        return [p.strip() for p in next(csv.reader([line]))]
    return line.split()


@dataclass(frozen=True)
class _Columns:
    """Where a file's id and label are, and which way a yes/no label points."""

    ident: int = 0
    label: int = 1
    width: int = 2  # columns a line has
    yes_is_bot: bool | None = None  # None: the header did not ask a question

    @staticmethod
    def of_header(parts: list[str]) -> _Columns | None:
        """The columns a header line names; None when the line is no header."""
        names = [p.lower() for p in parts]
        ident = next((i for i, n in enumerate(names) if n in HEADER_IDS), None)
        groups = [FIRST_LABELS, BOT_COLUMNS | PERSON_COLUMNS]
        if ident is not None:
            groups.append(BARE_QUESTIONS.keys())
        groups.append(HEADER_LABELS)
        label = next(
            (i for g in groups for i, n in enumerate(names) if n in g and i != ident), None
        )
        # "sid,label": a label column named beyond doubt makes the other the id; a first
        # line "a1 type" or "id crawler" is data (type, crawler: kinds of bot)
        certain = FIRST_LABELS + tuple(BOT_COLUMNS | PERSON_COLUMNS)
        if ident is None and label is not None and len(parts) == 2 and names[label] in certain:
            ident = 1 - label
        if ident is None or label is None:
            return None
        question = names[label]
        yes_is_bot = BARE_QUESTIONS.get(
            question,
            True if question in BOT_COLUMNS else False if question in PERSON_COLUMNS else None,
        )
        return _Columns(ident, label, len(parts), yes_is_bot)

    def label_of(self, value: str) -> str:
        """The label ``value`` in this column: a yes/no read as bot or human."""
        low = value.lower()
        if low not in YES and low not in NO:
            if self.yes_is_bot is not None:
                raise ValueError(f"label {value!r} under a yes/no column: not yes or no")
            return value
        if self.yes_is_bot is None:
            raise ValueError(
                f"label {value!r} says yes or no, but to what? Name the column in a header "
                "line (is_bot or is_human), or write human and a bot's kind"
            )
        return "bot" if (low in YES) == self.yes_is_bot else "human"


def read_labels(paths: Path | Sequence[Path]) -> dict[str, str]:
    """``id label`` (or ``id,label``) per line of each file → ``{id: label}``; ValueError
    names the line.

    Blank lines and ``#`` comments are skipped, and so is a header as a file's first line
    (its id column one of ``id``, ``actor``, ``session_id``, … or its label column one of
    ``label``, ``class``, …). Several files (a dataset's train and test annotations) are
    read as one: an id given twice with different labels, in one file or two, is an error.
    """
    labels: dict[str, str] = {}
    where: dict[str, str] = {}
    for path in [paths] if isinstance(paths, Path) else paths:
        first = True
        cols = _Columns()
        for n, raw in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = _split(line)
            if first:
                first = False
                header = _Columns.of_header(parts)
                if header is not None:
                    cols = header
                    continue
            if len(parts) != cols.width or not parts[cols.ident] or not parts[cols.label]:
                expected = (
                    "'id label' or 'id,label'" if cols.width == 2 else "a line like the header's"
                )
                raise ValueError(f"{path}:{n}: expected {expected}, got {line[:80]!r}")
            try:
                ident, label = parts[cols.ident], cols.label_of(parts[cols.label])
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: {exc}") from None
            if labels.get(ident, label) != label:
                raise ValueError(
                    f"{path}:{n}: {ident!r} is labelled {labels[ident]!r} at {where[ident]} "
                    f"and {label!r} here"
                )
            labels[ident] = label
            where.setdefault(ident, f"{path}:{n}")
    if not labels:
        shown = paths if isinstance(paths, Path) else ", ".join(map(str, paths))
        raise ValueError(f"{shown}: no labels")
    return labels


@dataclass
class Resolution:
    """Labels matched to the run's actors, and what did not match."""

    labels: dict[str, str]  # actor key -> label, the ones every figure uses
    given: int  # ids in the file
    exact: int = 0  # ids that were actor keys already
    prefixed: int = 0  # bare ids matched as session:/account:/ip:
    suffixed: int = 0  # sub-session ids matched by their base id
    unmatched: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)  # more than one scope exists
    conflicting: list[str] = field(default_factory=list)  # actors given two labels

    @property
    def resolved(self) -> int:
        """Ids that found an actor (several may find the same one)."""
        return self.exact + self.prefixed + self.suffixed

    def as_dict(self) -> dict[str, Any]:
        return {
            "given": self.given,
            "resolved": self.resolved,
            "exact": self.exact,
            "prefixed": self.prefixed,
            "suffixed": self.suffixed,
            "actors": len(self.labels),
            "unmatched": len(self.unmatched),
            "unmatched_ids": self.unmatched[:100],
            "ambiguous_ids": self.ambiguous[:100],
            "conflicting_actors": self.conflicting[:100],
        }

    def summary(self) -> str:
        parts = [
            f"labels: {self.given} ids, {self.resolved} matched an actor of the run "
            f"({self.exact} exact, {self.prefixed} as session/account/ip, "
            f"{self.suffixed} by their base id) -> {len(self.labels)} labelled actors"
        ]
        counts: dict[str, int] = {}
        for lab in self.labels.values():
            counts[lab] = counts.get(lab, 0) + 1
        if counts:
            parts.append(
                "  by label: "
                + ", ".join(
                    f"{shown(lab, 80)} {n} ({kind_of(lab)})" for lab, n in sorted(counts.items())
                )
            )
        for name, ids in (
            ("matched no actor with events in the run", self.unmatched),
            ("ambiguous (more than one scope exists)", self.ambiguous),
            ("conflicting labels, left out", self.conflicting),
        ):
            if ids:
                more = f" (and {len(ids) - 10} more)" if len(ids) > 10 else ""
                listed = ", ".join(shown(i, 80) for i in ids[:10]) + more
                parts.append(f"  {len(ids)} {name}: {listed}")
        return "\n".join(parts)


def _match(ident: str, actors: Collection[str]) -> tuple[str | None, str]:
    """(actor, how) with how in exact|prefixed|ambiguous|none."""
    if ident in actors:
        return ident, "exact"
    found = [f"{s}:{ident}" for s in SCOPES if f"{s}:{ident}" in actors]
    if len(found) == 1:
        return found[0], "prefixed"
    if found:
        return None, "ambiguous"
    return None, "none"


def resolve(given: Mapping[str, str], actors: Collection[str]) -> Resolution:
    """Match every labelled id to an actor of the run (see the module docstring)."""
    res = Resolution({}, len(given))
    found: dict[str, set[str]] = {}
    for ident, label in given.items():
        actor, how = _match(ident, actors)
        if how == "none":
            m = _SUFFIX.match(ident)
            if m:
                actor, how = _match(m.group("base"), actors)
                if actor is not None:
                    how = "suffixed"
        if actor is None:
            (res.ambiguous if how == "ambiguous" else res.unmatched).append(ident)
            continue
        setattr(res, how, getattr(res, how) + 1)
        found.setdefault(actor, set()).add(label)
    for actor, labs in sorted(found.items()):
        if len(labs) == 1:
            res.labels[actor] = next(iter(labs))
        else:
            res.conflicting.append(actor)
    return res

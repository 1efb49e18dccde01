"""``python -m tests.core.core_digest [--python] [N]``: runs N events of the bench mix, a
few malformed ones among them, through the detector of 8 partitions and a correlator,
with a fixed clock (run it with a fixed PYTHONHASHSEED), and prints as JSON which core
ran and one SHA-256 of everything they produced: decisions, scores, dead letters,
forwards, activities, feed, stats, group signals and every changed actor's encoded
state. ``--python`` imports the core from its sources first
(:func:`stream.core.compiled.use_python`), so the compiled and the pure core can be
compared (``tests/core/test_compiled.py``)."""

from __future__ import annotations

import hashlib
import sys
from collections import Counter

import orjson


def digest(n: int) -> tuple[str, Counter[str]]:
    """The SHA-256, and how many of each output it covers."""
    from models import DEFAULT_MODEL, REGISTRY
    from stream.core.actor_codec import encode
    from stream.core.correlation import GroupCorrelator
    from stream.core.partition_detector import Limits, PartitionDetector
    from stream.core.policy_loader import load_policy
    from stream.core.pseudonym import Pseudonymizer
    from stream.harness.bench import workload
    from stream.kafka.writer import partition_for
    from tests.helpers import T0, Rec

    parts: list[list[Rec]] = [[] for _ in range(8)]
    for i, (key, value, _) in enumerate(workload.events(n, max(1, n // 20), T0, span_s=7200.0)):
        p = partition_for(key, 8)
        if i % 997 == 0:  # malformed: cut short, or a field of the wrong type
            value = value[: len(value) // 2] if i % 2 else value.replace(b'"ts":', b'"ts":"x",')
        parts[p].append(Rec(len(parts[p]), key, value))
    policy, spec = load_policy(), REGISTRY.get(DEFAULT_MODEL).spec()
    clock = lambda: T0 + 7200.0  # noqa: E731
    dets = [
        PartitionDetector(
            "requests", p, policy, REGISTRY.build(spec), spec.label(), Limits(), clock=clock
        )
        for p in range(8)
    ]
    for det in dets:  # the same names in reasons in both runs (the default key is random)
        det.pseudo = Pseudonymizer(bytes(32))
    corr = GroupCorrelator(policy, clock=clock)
    h = hashlib.sha256()
    seen: Counter[str] = Counter()
    for start in range(0, max(len(r) for r in parts), 250):
        for det, recs in zip(dets, parts, strict=True):
            out = det.process(recs[start : start + 250])
            h.update(repr((out.forwards, sorted(out.stats.items()))).encode())
            # each record as the agents publish it (its own encode), and as an object
            for kind in (out.decisions, out.scores, out.deadletters, out.activities, out.feed):
                h.update(repr(kind).encode())
                for record in kind:
                    h.update(record.encode())
            for actor in sorted(out.changed):
                state = out.changed[actor]
                # the allowlist cache's key hashes the policy object's id: not the same twice
                sig, state.allow_sig = state.allow_sig, 0
                h.update(actor.encode() + encode(state))
                state.allow_sig = sig
            seen.update(
                decisions=len(out.decisions),
                scores=len(out.scores),
                deadletters=len(out.deadletters),
                changed=len(out.changed),
            )
            signals, touched = corr.process(out.activities)
            seen["signals"] += len(signals)
            seen["feed"] += len(out.feed)
            for signal in signals:
                h.update(signal.encode())
            h.update(repr((signals, sorted(touched))).encode())
    return h.hexdigest(), seen


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--python" in args:
        from stream.core.compiled import use_python

        use_python()
        args.remove("--python")
    from stream.core.compiled import summary

    sha, seen = digest(int(args[0]) if args else 20_000)
    print(orjson.dumps({"core": summary(), "sha256": sha, "outputs": seen}).decode())

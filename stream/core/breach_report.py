"""The breach-assessment report of an incident: Markdown, HTML or JSON.

What a privacy officer needs to decide on notification (time span, how many people,
which personal-data fields) and what counsel needs for a cease-and-desist (the actors,
evidence of the first and last requests, the decisions taken). People appear as
pseudonyms; with the ledger key (``--reveal-with``) sealed profile ids are opened.
"""

from __future__ import annotations

import html
from typing import Any

import orjson

from stream.core.internal_records import LedgerEntry
from stream.core.ledger import Sealer
from stream.core.utc_text import utc_text


def _t(ts: float | None) -> str:
    return "-" if ts is None else utc_text(ts)


def build(
    incident: dict[str, Any], ledger: list[LedgerEntry] | None, sealer: Sealer | None = None
) -> dict[str, Any]:
    """The report's content; ``ledger``: the incident's entries (None: not read)."""
    people: dict[str, dict[str, Any]] = {}
    for entry in ledger or []:
        p = people.setdefault(
            entry.profile,
            {
                "profile": entry.profile,
                "first_seen": entry.ts,
                "fields": set(),
                "sealed": entry.sealed,
            },
        )
        p["first_seen"] = min(p["first_seen"], entry.ts)
        p["fields"].update(entry.fields)
    rows = []
    revealed = 0
    for p in sorted(people.values(), key=lambda p: p["first_seen"]):
        row = {
            "profile": p["profile"],
            "first_seen": p["first_seen"],
            "fields": sorted(p["fields"]),
        }
        if sealer is not None and p["sealed"]:
            opened = sealer.open(p["sealed"])
            if opened is not None:
                row["profile_id"] = opened
                revealed += 1
        rows.append(row)
    span = incident["last_activity_at"] - incident["opened_at"]
    return {
        "incident_id": incident["incident_id"],
        "status": incident["status"],
        "severity": incident["severity"],
        "group": incident["key"],
        "time_span": {
            "start": incident["opened_at"],
            "end": incident["last_activity_at"],
            "hours": round(span / 3600, 2),
        },
        "actors": incident["actors"],
        "requests": incident["requests"],
        "affected_people": len(people) if ledger is not None else incident["affected_profiles"],
        "affected_people_source": "ledger" if ledger is not None else "incident summary",
        "fields_exposed": incident["fields_exposed"],
        "user_agents": incident.get("user_agents", []),
        "evidence": {
            "first_requests": incident["first_requests"],
            "last_requests": incident["last_requests"],
        },
        "decisions": incident["decisions"],
        "people": rows,
        "revealed": revealed,
    }


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# Incident {r['incident_id']} — {r['severity']} ({r['status']})",
        "",
        f"* **Time span:** {_t(r['time_span']['start'])} → {_t(r['time_span']['end'])} "
        f"({r['time_span']['hours']} h)",
        f"* **Group:** `{r['group']}`",
        f"* **Actors:** {len(r['actors'])} — "
        + ", ".join(f"`{a}`" for a in r["actors"][:20])
        + (" …" if len(r["actors"]) > 20 else ""),
        f"* **Requests for personal data:** {r['requests']}",
        f"* **Affected people:** {r['affected_people']} (from the {r['affected_people_source']})",
        f"* **Personal-data fields exposed:** {', '.join(r['fields_exposed']) or 'not reported'}",
        f"* **User agents:** {'; '.join(r['user_agents'][:5]) or '-'}",
        "",
        "## Decisions taken",
        "",
        "| time | actor | action | reasons |",
        "|---|---|---|---|",
    ]
    for d in r["decisions"]:
        lines.append(
            f"| {_t(d['ts'])} | `{d['actor']}` | {d['action']} | {'; '.join(d['reasons'])} |"
        )
    for title, key in (("First requests", "first_requests"), ("Last requests", "last_requests")):
        lines += [
            "",
            f"## Evidence: {title.lower()}",
            "",
            "| time | actor | path | profile | fields |",
            "|---|---|---|---|---|",
        ]
        for e in r["evidence"][key]:
            lines.append(
                f"| {_t(e['ts'])} | `{e['actor']}` | `{e['path']}` | `{e['profile']}` | "
                f"{', '.join(e['fields'])} |"
            )
    lines += [
        "",
        f"## Affected people ({len(r['people'])} in the ledger"
        + (f", {r['revealed']} revealed" if r["revealed"] else ", as pseudonyms")
        + ")",
        "",
    ]
    for p in r["people"][:1000]:
        who = f"{p['profile_id']} (`{p['profile']}`)" if "profile_id" in p else f"`{p['profile']}`"
        lines.append(f"* {who} — first {_t(p['first_seen'])}; {', '.join(p['fields'])}")
    if len(r["people"]) > 1000:
        lines.append(f"* … {len(r['people']) - 1000} more (use --format json for all)")
    return "\n".join(lines) + "\n"


def render(r: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return orjson.dumps(r, option=orjson.OPT_INDENT_2).decode()
    md = markdown(r)
    if fmt == "md":
        return md
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Incident "
        f"{html.escape(r['incident_id'])}</title><style>body{{font-family:system-ui;"
        f"margin:2em;max-width:70em}}pre{{white-space:pre-wrap}}</style></head><body>"
        f"<pre>{html.escape(md)}</pre></body></html>"
    )

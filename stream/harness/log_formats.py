"""The log formats ``replay`` knows, and telling which one a file is written in
(``--log-format auto``): :func:`detect_format`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stream.core.client_address import valid_address
from stream.harness.access_log import (
    COMBINED,
    ENVOY,
    JSON,
    LogFormatError,
    LogParser,
    numbered_lines,
    open_log,
)
from stream.harness.terminal_text import shown
from stream.harness.w3c_log import W3C, is_directive

# what ``--log-format auto`` tries, in this order (the most lines of a sample win; a tie
# goes to the earlier): the variants seen in public web-log datasets
KNOWN_FORMATS: dict[str, str] = {
    "combined": COMBINED,
    "combined with a session id": (
        '$remote_addr $ident $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" $session_id "$http_user_agent"'
    ),
    # Apache's "%h %l [%t] \"%r\" %>s %b \"%{Referer}i\" <session> \"%{User-Agent}i\"": no
    # %u field, as in a public web-bot dataset whose addresses are all "-"
    "session id, without a remote user": (
        '$remote_addr $ident [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" $session_id "$http_user_agent"'
    ),
    "combined with an ident": (
        '$remote_addr $ident $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent"'
    ),
    # nginx's stock "main": combined and the X-Forwarded-For header (--forwarded-for)
    "nginx main": (
        '$remote_addr $ident $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" "$http_x_forwarded_for"'
    ),
    "combined with more fields": (
        '$remote_addr $ident $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" $extra'
    ),
    "common": '$remote_addr $ident $remote_user [$time_local] "$request" $status $body_bytes_sent',
    # Apache's vhost_combined ("%v:%p %h %l %u %t ..."), Debian's other_vhosts_access.log:
    # the server's name and port before the client's address
    "vhost combined": (
        '$server_name:$server_port $remote_addr $ident $remote_user [$time_local] "$request" '
        '$status $body_bytes_sent "$http_referer" "$http_user_agent"'
    ),
    # AWS's load balancers (the client as address:port, the request line's target in
    # absolute form, no referrer): an Application Load Balancer's access log ...
    "aws alb": (
        "$alb_type $time_iso8601 $alb_name $remote_addr:$remote_port $target_addr "
        "$request_processing_time $target_processing_time $response_processing_time $status "
        '$target_status $received_bytes $body_bytes_sent "$request" "$http_user_agent" $extra'
    ),
    # ... and a Classic Load Balancer's
    "aws classic elb": (
        "$time_iso8601 $elb_name $remote_addr:$remote_port $backend_addr "
        "$request_processing_time $backend_processing_time $response_processing_time $status "
        '$backend_status $received_bytes $body_bytes_sent "$request" "$http_user_agent" $extra'
    ),
    # Envoy's default access log: no peer, X-Forwarded-For's last entry instead ...
    "envoy": ENVOY,
    # ... and Istio's sidecars' (the peer, downstream_remote_address, near the end)
    "istio": (
        '[$time_iso8601] "$request" $status $response_flags $response_code_details '
        '$connection_termination_details "$upstream_transport_failure_reason" '
        "$bytes_received $body_bytes_sent $duration $upstream_service_time "
        '"$http_x_forwarded_for" "$http_user_agent" "$request_id" "$authority" '
        '"$upstream_host" $upstream_cluster $upstream_local_address $downstream_local_address '
        "$remote_addr:$remote_port $requested_server_name $route_name"
    ),
    # IIS's and CloudFront's W3C extended logs (#Fields: ...): stream.harness.w3c_log
    "w3c": W3C,
    # one JSON object per line (nginx's escape=json, Caddy, Traefik): stream.harness.json_log
    "json": JSON,
}
DETECT_SAMPLE_LINES = 500


def named_format(text: str) -> str:
    """``text``, or the format of the known format it names (``combined``, ``nginx-main``,
    ``aws_alb``: any case, ``-`` or ``_`` for a space)."""
    name = " ".join(text.strip().lower().replace("-", " ").replace("_", " ").split())
    return KNOWN_FORMATS.get(name, text)


@dataclass(frozen=True)
class Detected:
    name: str
    fmt: str
    matched: int  # lines of the sample the format parses
    sampled: int

    @property
    def lacks(self) -> list[str]:
        """What request events from this format go without (a JSON log names its fields
        line by line, a W3C log in its directives: nothing known)."""
        if self.fmt in (JSON, W3C):
            return []
        return [
            what
            for var, what in (("http_user_agent", "user agent"), ("http_referer", "referrer"))
            if f"${var}" not in self.fmt
        ]


def looks_forwarded(header: str) -> bool:
    """Whether a logged field reads as X-Forwarded-For: empty, ``-``, or addresses
    (``unknown`` or obfuscated ``_x`` ones among them) — not a host name, nor a time."""
    if header.strip() in ("", "-"):
        return True
    entries = [e.strip() for e in header.split(",")]
    return all(valid_address(e) or e.lower() == "unknown" or e.startswith("_") for e in entries)


def _fits(parser: LogParser, line: str) -> bool:
    """``line`` is a request in ``parser``'s format — and a field the format names
    X-Forwarded-For reads as one: "combined with more fields" takes a quoted $host or
    $gzip_ratio, which nginx's main format would read as the client's address."""
    if parser.parse_line(line, 0) is None:
        return False
    if parser.pattern is None:  # JSON and W3C lines name their fields
        return True
    fields = parser.fields(line) or {}
    return looks_forwarded(fields.get("http_x_forwarded_for", ""))


def detect_format(path: Path, sample_lines: int = DETECT_SAMPLE_LINES) -> Detected:
    """The richest known format (:data:`KNOWN_FORMATS`) that parses (within 2 %) as many
    of the first ``sample_lines`` lines of ``path`` as any; LogFormatError when none
    parses any."""
    sample: list[str] = []
    with open_log(path) as fh:
        for _, line in numbered_lines(fh, lambda error: None):  # the replay reports it
            sample.append(line)
            if len(sample) >= sample_lines:
                break
    if not sample:  # an empty file (as logrotate leaves one): nothing to replay in it
        return Detected("combined", COMBINED, 0, 0)
    if all(is_directive(line) for line in sample) and any("#Fields:" in x for x in sample):
        return Detected("w3c", W3C, 0, 0)  # IIS's header alone, after a restart
    counts: list[Detected] = []
    for name, fmt in KNOWN_FORMATS.items():
        parser = LogParser(fmt)
        n = sum(_fits(parser, line) for line in sample)
        counts.append(Detected(name, fmt, n, len(sample)))
    most = max(d.matched for d in counts)
    # the formats run from the richest to the poorest, and a poorer one (common) also
    # parses the lines of the richer ones: the first within 2 % of the best wins, so one
    # odd line does not cost a whole file its user agents and referrers
    best = next((d for d in counts if d.matched and d.matched >= 0.98 * most), None)
    if best is None:
        first = shown(sample[0], 120)
        raise LogFormatError(
            f"{path}: no known log format parses its lines (tried {', '.join(KNOWN_FORMATS)}); "
            f"give --log-format with the nginx log_format of the file. First line: {first}"
        )
    return best

"""nginx's access log, parsed with the very ``log_format`` the gateway renders.

The regex is built from the format string, so the drill reads whatever fields the renderer logs;
it needs ``$msec``, ``$upstream_addr``, ``$upstream_status``, ``$request_time`` and ``$status``.
With retries nginx writes ``$upstream_addr`` as ``a, b`` (tries in one upstream group) and
``a : b`` (internal redirects); the last address is the one that answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REQUIRED = ("msec", "upstream_addr", "upstream_status", "request_time", "status")
_LIST = r"(?:, | : )"


def _list_of(item: str) -> str:
    """One value per try; nginx writes "-" for a try that has none (e.g. no connection)."""
    return rf"(?:{item}|-)(?:{_LIST}(?:{item}|-))*"


_PATTERNS = {
    "msec": r"\d+\.\d+",
    "request_time": r"\d+\.\d+",
    "status": r"\d{3}",
    "upstream_addr": _list_of(r"[^\s,]+"),
    "upstream_status": _list_of(r"\d{3}"),
    "upstream_response_time": _list_of(r"[\d.]+"),
    "upstream_connect_time": _list_of(r"[\d.]+"),
    "upstream_header_time": _list_of(r"[\d.]+"),
}
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Entry:
    msec: float  # when nginx finished the request (wall clock)
    upstreams: tuple[str, ...]  # every server tried, in order
    upstream_statuses: tuple[str, ...]
    request_time: float
    status: int
    request: str  # "$request" if logged, else ""
    last_try_seconds: float | None  # $upstream_response_time of the answering try, if logged

    @property
    def answered_by(self) -> str:
        return self.upstreams[-1] if self.upstreams else "-"

    @property
    def last_try_started(self) -> float | None:
        """When nginx sent the request to the server that answered ($upstream_response_time)."""
        return None if self.last_try_seconds is None else self.msec - self.last_try_seconds

    @property
    def retried(self) -> bool:
        return len(self.upstreams) > 1


def compile_format(log_format: str) -> re.Pattern[str]:
    missing = [v for v in REQUIRED if f"${v}" not in log_format and f"${{{v}}}" not in log_format]
    if missing:
        raise ValueError(f"the gateway's log_format lacks {', '.join('$' + v for v in missing)}")
    parts: list[str] = []
    seen: set[str] = set()
    last = 0
    for match in _VARIABLE.finditer(log_format):
        parts.append(re.escape(log_format[last : match.start()]))
        name = match.group(1) or match.group(2)
        pattern = _PATTERNS.get(name, r".*?")
        parts.append(f"(?P<{name}>{pattern})" if name not in seen else f"(?:{pattern})")
        seen.add(name)
        last = match.end()
    parts.append(re.escape(log_format[last:]))
    return re.compile("^" + "".join(parts) + "$")


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in re.split(_LIST, value) if v != "-") if value != "-" else ()


def _last_time(value: str | None) -> float | None:
    last = re.split(_LIST, value)[-1] if value else "-"
    return None if last == "-" else float(last)


def parse(path: Path, log_format: str) -> list[Entry]:
    pattern = compile_format(log_format)
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = pattern.match(line)
        if match is None:
            raise ValueError(f"access log line does not match the log_format: {line!r}")
        fields = match.groupdict()
        entries.append(
            Entry(
                msec=float(fields["msec"]),
                upstreams=_split(fields["upstream_addr"]),
                upstream_statuses=tuple(re.split(_LIST, fields["upstream_status"])),
                request_time=float(fields["request_time"]),
                status=int(fields["status"]),
                request=fields.get("request") or "",
                last_try_seconds=_last_time(fields.get("upstream_response_time")),
            )
        )
    return entries

"""Findings, per-check lines, and their text / JSON rendering."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field

SEVERITIES = ("error", "warning", "info")
_RANK = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Remedy:
    """What to do: a one-line summary and the exact commands, in order.

    A command starting with ``#`` is a comment line (e.g. "# or by hand:").
    """

    summary: str
    commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # error | warning | info
    check: str  # the check line it belongs to
    title: str  # a few words, shown on the check line
    found: str  # what was found
    why: str  # why it matters
    remedy: Remedy | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")


@dataclass(frozen=True)
class Check:
    id: str
    label: str  # e.g. "torch 2.13.0+cpu (CUDA not available)"


@dataclass
class Report:
    profile: str
    table_version: str
    checks: list[Check]
    findings: list[Finding]
    facts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)  # static_s, probe_s, total_s

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def check_status(self, check_id: str) -> str:
        """"error" / "warning" for the worst finding on the check, else "ok"."""
        ranks = [_RANK[f.severity] for f in self.findings if f.check == check_id]
        worst = min(ranks, default=_RANK["info"])
        return {0: "error", 1: "warning"}.get(worst, "ok")

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "profile": self.profile,
            "table_version": self.table_version,
            "counts": {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES},
            "checks": [{"id": c.id, "status": self.check_status(c.id), "label": c.label}
                       for c in self.checks],
            "findings": [asdict(f) for f in self.findings],
            "timings": self.timings,
            "facts": self.facts,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_text(self, color: bool = False, unicode: bool = True) -> str:
        return render_text(self, color=color, unicode=unicode)

    def errors_text(self) -> str:
        """The errors and their remedies (the message of PreflightError)."""
        lines = [f"envcheck found {len(self.errors)} error(s):"]
        for i, f in enumerate(self.errors, 1):
            lines.append(f"  {i}. [{f.id}] {f.found}")
        with_remedy = [f for f in sorted(self.errors, key=_remedy_order) if f.remedy is not None]
        if with_remedy:
            lines += ["Remedies:"] + _numbered_remedies(with_remedy)
        return "\n".join(lines)


# restarting the kernel comes after whatever else must be installed first
_LAST = {"stale.import"}


def _remedy_order(f: Finding) -> tuple[int, bool]:
    return _RANK[f.severity], f.id in _LAST


_MARKS = {"ok": "✓", "error": "✗", "warning": "!", "info": "i"}
_ASCII = {"ok": "+", "error": "x", "warning": "!", "info": "i"}
_COLORS = {"ok": "32", "error": "31", "warning": "33", "info": "36"}


def _paint(text: str, status: str, color: bool) -> str:
    return f"\033[{_COLORS[status]}m{text}\033[0m" if color else text


def _numbered_remedies(findings: list[Finding]) -> list[str]:
    """Numbered remedies; one whose commands repeat an earlier one points back at it."""
    lines: list[str] = []
    seen: dict[tuple[str, ...], int] = {}
    for i, f in enumerate(findings, 1):
        remedy = f.remedy
        assert remedy is not None
        same = seen.get(remedy.commands) if remedy.commands else None
        if same is not None:
            lines.append(f"  {i}. [{f.id}] same commands as {same}.")
            continue
        if remedy.commands:
            seen[remedy.commands] = i
        lines.append(f"  {i}. [{f.id}] {remedy.summary}")
        lines += [f"       {'' if c.startswith(('#', '!')) else '$ '}{c}" for c in remedy.commands]
    return lines


def render_text(report: Report, *, color: bool = False, unicode: bool = True) -> str:
    marks = _MARKS if unicode else _ASCII
    dash = "—" if unicode else "-"
    lines = [f"envcheck: profile {report.profile}, compatibility table {report.table_version}"]
    known = {c.id for c in report.checks}
    checks = list(report.checks)
    if any(f.check not in known for f in report.findings):
        checks.append(Check("other", "Other"))
    for check in checks:
        mine = sorted((f for f in report.findings
                       if f.check == check.id or (check.id == "other" and f.check not in known)),
                      key=lambda f: _RANK[f.severity])
        status = {0: "error", 1: "warning"}.get(min((_RANK[f.severity] for f in mine),
                                                    default=2), "ok")
        label = check.label
        titles = [f.title for f in mine if f.severity == status and f.title
                  and f.title.lower() not in label.lower()]
        if titles:
            label += f" {dash} " + "; ".join(dict.fromkeys(titles))
        lines.append(_paint(f"[{marks[status]}]", status, color) + f" {label}")
        for f in mine:
            lines.append(f"    {_paint(marks[f.severity], f.severity, color)} {f.id}: {f.found}")
            lines.append(f"      why: {f.why}")
    actionable = [f for f in sorted(report.findings, key=_remedy_order) if f.remedy is not None]
    if actionable:  # notes alone are suggestions: nothing needs fixing
        heading = ("Remedies" if any(f.severity in ("error", "warning") for f in actionable)
                   else "Suggestions (nothing needs fixing)")
        lines += ["", heading] + _numbered_remedies(actionable)
    counts = {s: sum(f.severity == s for f in report.findings) for s in SEVERITIES}
    timing = report.timings
    lines += ["", f"{counts['error']} error(s), {counts['warning']} warning(s), "
                  f"{counts['info']} note(s) · static {timing.get('static_s', 0):.2f} s · "
                  f"probes {timing.get('probe_s', 0):.2f} s"]
    text = "\n".join(lines)
    return text if unicode else text.replace("·", "-").replace("✓", "+")


def stream_supports(stream=None) -> tuple[bool, bool]:
    """(color, unicode) for ``stream``: color only on a TTY without NO_COLOR; unicode when the
    stream's encoding can write the marks."""
    stream = stream or sys.stdout
    color = bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ \
        and os.environ.get("TERM") != "dumb"
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "✓✗—·".encode(encoding)
        unicode = True
    except (UnicodeEncodeError, LookupError):
        unicode = False
    return color, unicode

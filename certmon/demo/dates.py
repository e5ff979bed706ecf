"""Keep the demo scenario current: its sample feeds are dated in November 2026, and are read with
every date moved by whole days so that the newest demo event happened shortly before the day the
demo was loaded (`make run` records that day in `<data dir>/demo.json`)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

# The newest event in feeds/samples/demo/ (the Exchange advisory, Thu 26 Nov 2026 07:30 +01:00);
# tests/test_demo_dates.py checks that no sample holds a later one.
DEMO_NEWEST = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
MARKER = "demo.json"

_ISO_DATE = re.compile(rb"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?=[T \"',]|$)", re.M)
_RFC822 = re.compile(rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}")


def shift_days(loaded: datetime, newest: datetime = DEMO_NEWEST) -> int:
    """Whole days that put `newest` on the last day at or before `loaded` with the same time of day."""
    return (loaded - newest) // timedelta(days=1)


def shift_dates(content: bytes, days: int) -> bytes:
    """`content` with every ISO 8601 date (YYYY-MM-DD) and RFC 822 date moved by `days` days;
    times of day, zones and everything else stay as they are (RFC 822 weekdays are recomputed)."""
    if days == 0:
        return content

    def iso(m: re.Match[bytes]) -> bytes:
        try:
            moved = date(int(m[1]), int(m[2]), int(m[3])) + timedelta(days=days)
        except ValueError:  # not a real date (e.g. a version string): leave it
            return m[0]
        return moved.isoformat().encode()

    def rfc822(m: re.Match[bytes]) -> bytes:
        moved = parsedate_to_datetime(m[0].decode()) + timedelta(days=days)
        return format_datetime(moved).encode()

    return _RFC822.sub(rfc822, _ISO_DATE.sub(iso, content))


def record_loaded(data_dir: Path, now: datetime | None = None) -> None:
    """Mark `data_dir` as set up in demo mode, loaded `now` (the dates the samples are moved to)."""
    stamp = (now or datetime.now(UTC)).isoformat()
    (data_dir / MARKER).write_text(json.dumps({"loaded": stamp}) + "\n", encoding="utf-8")


def clear_marker(data_dir: Path) -> None:
    """Forget that `data_dir` was set up in demo mode."""
    (data_dir / MARKER).unlink(missing_ok=True)


def is_demo_dir(data_dir: Path) -> bool:
    """Whether `data_dir` was set up in demo mode (so every command there runs in demo mode)."""
    return (data_dir / MARKER).is_file()


def loaded_at(data_dir: Path) -> datetime | None:
    """When the demo was last loaded into `data_dir`, or None (unmarked or unreadable marker)."""
    try:
        value = json.loads((data_dir / MARKER).read_text(encoding="utf-8"))["loaded"]
        return datetime.fromisoformat(value)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_sample(path: Path, data_dir: Path) -> bytes:
    """A demo sample's bytes with its dates moved to the day the demo was loaded."""
    content = path.read_bytes()
    loaded = loaded_at(data_dir)
    return content if loaded is None else shift_dates(content, shift_days(loaded))

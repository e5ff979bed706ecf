"""The feeds part as the core sees it (entry point `certmon.plugins: feeds`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from feeds.formats import FORMATS, detect_format, iter_bytes, parse_bytes

CATALOGUE = Path(__file__).resolve().parent / "sources.yaml"

__all__ = ["FORMATS", "Document", "RunReport", "catalogue", "detect_format", "iter_bytes", "parse_bytes", "run_source"]  # noqa: F822

# The collection pipeline (database, matching, alerts) is imported on first use: `certmon parse`
# needs only the adapters, and importing `feeds.collect` costs ~0.5 s of CPU (SQLAlchemy models).
_COLLECT = frozenset({"SAMPLES_DIR", "Document", "RunReport", "run_source"})


def __getattr__(name: str) -> Any:
    if name in _COLLECT:
        from feeds import collect

        return getattr(collect, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def catalogue(*, demo: bool) -> list[dict[str, Any]]:
    """Catalogue entries ready for `sync_catalogue`. In demo mode each source reads its bundled
    sample (sources without one are disabled); outside demo mode demo-only sources are left out."""
    import yaml

    from feeds.collect import SAMPLES_DIR

    entries = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))["sources"]
    out = []
    for raw in entries:
        entry = dict(raw)
        sample = entry.pop("sample", None)
        demo_only = entry.pop("demo_only", False)
        if demo:
            if sample:
                entry["url"] = (SAMPLES_DIR / sample).as_uri()
            else:
                entry["enabled"] = False
        elif demo_only:
            continue
        out.append(entry)
    return out

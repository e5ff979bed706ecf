"""Small inline SVG bar charts (no JavaScript, no external assets): every label is escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR_HEIGHT = 18
GAP = 6
LABEL_WIDTH = 190
VALUE_WIDTH = 48
WIDTH = 620
COLOURS = ("#1f5f8b", "#9aa9b8")  # current period, previous period


def _fmt(value: int) -> str:
    return f"{value:,}".replace(",", "\u00a0")


def bar_chart(bars: Sequence[tuple[str, int]], *, title: str) -> Markup:
    """A horizontal bar chart: one row per (label, value), longest bar scaled to the chart width."""
    if not bars:
        return Markup("")
    top = max(max(v for _, v in bars), 1)
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = len(bars) * (BAR_HEIGHT + GAP) + GAP
    rows = []
    for i, (label, value) in enumerate(bars):
        y = GAP + i * (BAR_HEIGHT + GAP)
        width = max(round(span * value / top), 1 if value else 0)
        rows.append(Markup(
            '<text x="{lx}" y="{ty}" text-anchor="end" font-size="11">{label}</text>'
            '<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}"/>'
            '<text x="{vx}" y="{ty}" font-size="11">{value}</text>'
        ).format(lx=LABEL_WIDTH - 6, ty=y + BAR_HEIGHT - 5, label=_clip(label), x=LABEL_WIDTH, y=y, w=width,
                 h=BAR_HEIGHT, fill=COLOURS[0], vx=LABEL_WIDTH + width + 4, value=_fmt(value)))
    return _svg(title, height, Markup("").join(rows))


def compare_chart(rows: Sequence[tuple[str, int, int]], *, title: str, legend: tuple[str, str]) -> Markup:
    """Paired bars per row: this period (dark) against the previous period (light), with a legend."""
    if not rows:
        return Markup("")
    top = max(max(max(a, b) for _, a, b in rows), 1)
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    pair = 2 * BAR_HEIGHT // 2 + 2
    height = 22 + len(rows) * (pair + 2 * GAP)
    parts = [Markup(
        '<rect x="{x}" y="2" width="10" height="10" fill="{c0}"/><text x="{x1}" y="11" font-size="11">{a}</text>'
        '<rect x="{x2}" y="2" width="10" height="10" fill="{c1}"/><text x="{x3}" y="11" font-size="11">{b}</text>'
    ).format(x=LABEL_WIDTH, x1=LABEL_WIDTH + 14, x2=LABEL_WIDTH + 160, x3=LABEL_WIDTH + 174,
             c0=COLOURS[0], c1=COLOURS[1], a=legend[0], b=legend[1])]
    for i, (label, current, previous) in enumerate(rows):
        y = 22 + i * (pair + 2 * GAP)
        parts.append(Markup('<text x="{lx}" y="{ty}" text-anchor="end" font-size="11">{label}</text>')
                     .format(lx=LABEL_WIDTH - 6, ty=y + pair - 3, label=_clip(label)))
        for j, value in enumerate((current, previous)):
            width = max(round(span * value / top), 1 if value else 0)
            by = y + j * (pair // 2 + 1)
            parts.append(Markup(
                '<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}"/>'
                '<text x="{vx}" y="{ty}" font-size="9">{value}</text>'
            ).format(x=LABEL_WIDTH, y=by, w=width, h=pair // 2, fill=COLOURS[j], vx=LABEL_WIDTH + width + 4,
                     ty=by + pair // 2 - 1, value=_fmt(value)))
    return _svg(title, height, Markup("").join(parts))


def _clip(label: str, limit: int = 32) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _svg(title: str, height: int, body: Markup) -> Markup:
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{w}" height="{h}" '
        'viewBox="0 0 {w} {h}" font-family="DejaVu Sans, sans-serif"><title>{t}</title>{body}</svg>'
    ).format(w=WIDTH, h=height, t=escape(title), body=body)

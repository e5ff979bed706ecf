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


def column_chart(labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]], *, title: str,
                 width: int = 460, height: int = 150) -> Markup:
    """Stacked columns, one per label (e.g. a day), each series (name, colour, values) stacked in order,
    with a legend, the highest total on the axis and every seventh label under the columns."""
    if not labels or not series:
        return Markup("")
    totals = [sum(values[i] for _n, _c, values in series) for i in range(len(labels))]
    top = max(max(totals), 1)
    left, legend_h, axis_h = 34, 18, 16
    plot_h = height - legend_h - axis_h
    right = 16  # room for the last label, centred under the last column
    step = (width - left - right) / len(labels)
    parts = [Markup('<text x="{x}" y="{y}" font-size="10" text-anchor="end">{v}</text>'
                    '<line x1="{l}" y1="{y0}" x2="{w}" y2="{y0}" stroke="#9aa9b8" stroke-width="0.5"/>'
                    '<line x1="{l}" y1="{yb}" x2="{w}" y2="{yb}" stroke="#1c1c1c" stroke-width="0.8"/>')
             .format(x=left - 4, y=legend_h + 9, v=_fmt(top), l=left, w=width - right, y0=legend_h + 1,
                     yb=legend_h + plot_h)]
    x = left
    for name, colour, _values in series:
        parts.append(Markup('<rect x="{x}" y="3" width="9" height="9" fill="{c}"/>'
                            '<text x="{tx}" y="11" font-size="10">{n}</text>')
                     .format(x=x, c=colour, tx=x + 12, n=name))
        x += 18 + 6 * len(name)
    for i, label in enumerate(labels):
        base: float = legend_h + plot_h
        for name, colour, values in series:
            value = values[i]
            if not value:
                continue
            h = max(plot_h * value / top, 1)
            base -= h
            parts.append(Markup('<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{c}">'
                                '<title>{label}: {n} {v}</title></rect>')
                         .format(x=left + i * step + 1, y=base, w=max(step - 2, 1), h=h, c=colour, label=label,
                                 n=name, v=_fmt(value)))
        if i % 7 == (len(labels) - 1) % 7:
            parts.append(Markup('<text x="{x:.1f}" y="{y}" font-size="10" text-anchor="middle">{t}</text>')
                         .format(x=left + (i + 0.5) * step, y=height - 3, t=label))
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart trend" role="img" width="{w}" height="{h}" '
        'viewBox="0 0 {w} {h}" font-family="DejaVu Sans, sans-serif"><title>{t}</title>{body}</svg>'
    ).format(w=width, h=height, t=escape(title), body=Markup("").join(parts))

"""Render a report: Jinja2 HTML in bokmål (translation layer), inline SVG charts, PDF with WeasyPrint."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from certmon.i18n import CODE_LABELS, N_, translations
from certmon.reports.charts import bar_chart, compare_chart
from certmon.reports.figures import Bar, Figures
from certmon.reports.periods import OSLO, Period
from certmon.tlp import TLP, max_tlp, parse_tlp

LABELS: dict[str, dict[str, str]] = {
    **CODE_LABELS,
    "status": {"draft": N_("Draft"), "approved": N_("Approved")},
}
TLP_COLOURS = {TLP.CLEAR: "#ffffff", TLP.GREEN: "#33ff00", TLP.AMBER: "#ffc000",
               TLP.AMBER_STRICT: "#ffc000", TLP.RED: "#ff2b2b"}


def gettext(message: str) -> str:
    """Translate a message id to bokmål."""
    return translations("nb").gettext(message)


def label(code: str | None, group: str) -> str:
    """The bokmål label of a stored code (the code itself when unknown)."""
    text = LABELS.get(group, {}).get(code or "")
    return gettext(text) if text else (code or "")


def number(value: int | float | None) -> str:
    """Norwegian grouping (non-breaking space) and decimal comma; `–` for none."""
    if value is None:
        return "–"
    text = f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"
    return text.replace(",", "\u00a0").replace(".", ",")


def signed(value: int) -> str:
    """A change with its sign (`+3`, `−2`, `0`)."""
    return f"+{number(value)}" if value > 0 else (f"−{number(-value)}" if value < 0 else "0")


def minutes(value: float | None) -> str:
    """A duration in minutes, readable: `12 min`, `3,5 timer`, `2,1 døgn`."""
    if value is None:
        return "–"
    if value < 90:
        return gettext("%(n)s min") % {"n": number(round(value))}
    if value < 48 * 60:
        return gettext("%(n)s hours") % {"n": number(round(value / 60, 1))}
    return gettext("%(n)s days") % {"n": number(round(value / 1440, 1))}


def oslo(value: datetime | None, fmt: str = "%d.%m.%Y kl. %H:%M") -> str:
    """A UTC time in Oslo, Norwegian style."""
    return value.astimezone(OSLO).strftime(fmt) if value is not None else "–"


def assessment_html(text: str | None) -> Markup:
    """The analysts' text, every character escaped: blank lines separate paragraphs, `- ` lines make lists."""
    blocks = [b for b in re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n").strip()) if b.strip()]
    out = []
    for block in blocks:
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if all(line.startswith(("- ", "* ", "• ")) for line in lines):
            items = Markup("").join(Markup("<li>{}</li>").format(line[2:].strip()) for line in lines)
            out.append(Markup("<ul>{}</ul>").format(items))
        else:
            out.append(Markup("<p>{}</p>").format(Markup("<br>").join(escape(line) for line in lines)))
    return Markup("\n").join(out)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The report templates with autoescaping, gettext (bokmål) and the report filters."""
    env = Environment(loader=PackageLoader("certmon.reports", "templates"),
                      autoescape=select_autoescape(["html"], default_for_string=True),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations("nb"), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update({"number": number, "signed": signed, "minutes": minutes, "oslo": oslo,
                        "label": label, "assessment": assessment_html})
    return env


def _bars(bars: list[Bar], group: str | None = None, empty: str = "") -> list[tuple[str, int]]:
    return [(label(b.label, group) if group else (b.label or empty), b.value) for b in bars]


def charts(figures: Figures) -> dict[str, Markup]:
    """The report's SVG charts, labelled in bokmål."""
    trend_rows = [(gettext("New advisories"), figures.advisories), (gettext("Matches"), figures.matches),
                  (gettext("Affected organisations"), figures.constituents),
                  (gettext("Alerts sent"), figures.alerts_sent)]
    legend = (gettext("This period"), gettext("Previous period"))
    svgs = {
        "trend": compare_chart([(name, t.current, t.previous) for name, t in trend_rows],
                               title=gettext("Trend against the previous period"), legend=legend),
        "rule": bar_chart(_bars(figures.matches_by_rule, "rule"), title=gettext("Matches by rule")),
        "severity": bar_chart(_bars(figures.matches_by_severity, "severity"),
                              title=gettext("Matches by severity")),
        "county": bar_chart(_bars(figures.by_county), title=gettext("Affected organisations by county")),
        "kind": bar_chart(_bars(figures.by_kind, "kind"), title=gettext("Affected organisations by kind")),
        "region": bar_chart(_bars(figures.by_health_region), title=gettext("Health trusts by health region")),
    }
    return {name: _figure(svg) for name, svg in svgs.items()}


def _figure(svg: Markup) -> Markup:
    """A chart with its title shown as a caption (the SVG's own <title> is not printed)."""
    found = re.search(r"<title>(.*?)</title>", str(svg))
    if not found:
        return svg
    return Markup('<figure class="chart"><figcaption>{}</figcaption>{}</figure>').format(
        Markup(found.group(1)), svg)  # noqa: S704 - the title was escaped when the SVG was built


def render_html(*, report: Any, period: Period, figures: Figures, generated_at: datetime) -> str:
    """The whole report as one self-contained HTML document (inline CSS and SVG, no external assets).

    The label is the highest TLP of what the figures count, raised to the assessment's own marking."""
    marking = parse_tlp(getattr(report, "assessment_tlp", None), TLP.CLEAR)
    tlp = max_tlp([parse_tlp(figures.tlp, TLP.AMBER), marking])
    context = {
        "report": report, "period": period, "figures": figures, "charts": charts(figures),
        "tlp": tlp, "tlp_colour": TLP_COLOURS[tlp], "ceiling": parse_tlp(figures.ceiling, TLP.AMBER),
        "draft": report.status != "approved", "generated_at": generated_at, "assessment_marking": marking,
    }
    return environment().get_template("report.html").render(context)


def _refuse_urls(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The report has no external assets: WeasyPrint may fetch nothing."""
    raise ValueError(f"report rendering fetches no URLs ({url[:60]})")


def render_pdf(html: str) -> bytes:
    """The report as PDF (WeasyPrint, imported lazily: the import takes about a second)."""
    import weasyprint

    pdf = weasyprint.HTML(string=html, url_fetcher=_refuse_urls).write_pdf()
    assert pdf is not None
    return bytes(pdf)

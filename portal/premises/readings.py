"""/premises/<id>/readings: the premises' meter readings ("Odczyty liczników"): per kind of
meter a bar chart of consumption per month (a server-rendered SVG, as the balance chart, with
a sentence and a table for those who cannot see it), then every reading.

Readings, consumption and their sums are exact decimals (the document's decimal text, summed
as Decimal); only the SVG's coordinates are rounded, to a tenth of a pixel. A reading's
consumption is the month of its date: a reading at the end of a month closes that month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any
from xml.sax.saxutils import escape

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from etl.snapshot.document import METER_KINDS, Reading, reading_rows
from portal.i18n import N_, current_locale
from portal.i18n import gettext as _
from portal.premises.page import Page
from portal.web.format import number
from portal.web.templating import templates

METER_LABELS = {
    "cold_water": N_("Zimna woda"),
    "hot_water": N_("Ciepła woda"),
    "heat": N_("Ciepło"),
    "gas": N_("Gaz"),
}
MONTHS_SHOWN = 24  # the chart's months at most (the table has every reading)
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 14, 40
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Series:
    """One chart: consumption per month of one kind of meter, in one unit."""

    meter: str
    unit: str
    months: list[tuple[str, Decimal]]  # ("YYYY-MM", consumption), oldest first

    @property
    def label(self) -> str:
        return _(METER_LABELS.get(self.meter, self.meter))


def _month(iso: str) -> str:
    return f"{iso[5:7]}.{iso[:4]}"


def series(rows: Sequence[Reading]) -> list[Series]:
    """Consumption per month for each (meter kind, unit), the meters of a kind summed (a flat
    may have two cold water meters); readings without a consumption add nothing."""
    sums: dict[tuple[str, str], dict[str, Decimal]] = {}
    for r in rows:
        if r.consumption == "":
            continue
        months = sums.setdefault((r.meter, r.unit), {})
        months[r.date[:7]] = months.get(r.date[:7], Decimal(0)) + Decimal(r.consumption)
    order = {m: i for i, m in enumerate(METER_KINDS)}
    return [
        Series(meter, unit, sorted(months.items())[-MONTHS_SHOWN:])
        for (meter, unit), months in sorted(sums.items(), key=lambda k: (order.get(k[0][0], 9), k))
    ]


def describe(s: Series) -> str:
    """One sentence a screen reader speaks instead of the chart."""
    values = [v for _, v in s.months]
    total = sum(values, Decimal(0))
    high_month, high = max(s.months, key=lambda m: m[1])
    low_month, low = min(s.months, key=lambda m: m[1])
    return _(
        "%(label)s: zużycie od %(first)s do %(last)s, razem %(total)s %(unit)s; najwięcej "
        "%(high)s %(unit)s (%(high_month)s), najmniej %(low)s %(unit)s (%(low_month)s)."
    ) % {
        "label": s.label,
        "first": _month(s.months[0][0]),
        "last": _month(s.months[-1][0]),
        "total": number(total),
        "unit": s.unit,
        "high": number(high),
        "high_month": _month(high_month),
        "low": number(low),
        "low_month": _month(low_month),
    }


def _step(top: Decimal) -> Decimal:
    """A gridline step of 1, 2 or 5 × 10ⁿ giving about four lines up to `top`."""
    raw = top / 4 if top > 0 else Decimal(1)
    magnitude = Decimal(1).scaleb(raw.adjusted())
    for m in (1, 2, 5, 10):
        if m * magnitude >= raw:
            return m * magnitude
    return 10 * magnitude


def _px(value: Decimal) -> str:
    return str(value.quantize(_TENTH))


def render_svg(s: Series, chart_id: str) -> Markup:
    """Bars of consumption per month above a zero baseline; every figure in the SVG is text
    of exact decimals."""
    values = [v for _, v in s.months]
    title = _("%(label)s: zużycie w miesiącach (%(unit)s)") % {"label": s.label, "unit": s.unit}
    step = _step(max(values))
    # The gridline at or above the highest bar (Decimal's // truncates: no ceiling by -(-a//b)).
    top = max(step, step * (max(values) / step).to_integral_value(rounding=ROUND_CEILING))
    plot_w, plot_h = Decimal(WIDTH - LEFT - RIGHT), Decimal(HEIGHT - TOP - BOTTOM)
    slot = plot_w / len(values)
    bar = slot * Decimal("0.7")

    def y(v: Decimal) -> Decimal:
        return TOP + plot_h * (top - v) / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-bars" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        'focusable="false">',
        f'<title id="{chart_id}-t">'
        + escape(title)
        + "</title>",
        f'<desc id="{chart_id}-d">{escape(describe(s))}</desc>',
    ]
    v = Decimal(0)
    while v <= top:
        yy = _px(y(v))
        cls = "chart-zero-solid" if v == 0 else "chart-grid"
        parts.append(f'<line class="{cls}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yy}" y2="{yy}"/>')
        parts.append(
            f'<text class="chart-label" x="{LEFT - 6}" y="{_px(y(v) + 4)}" text-anchor="end">'
            f"{escape(number(v.normalize() if v else Decimal(0)))}</text>"
        )
        v += step
    every = max(1, -(-len(values) // 8))  # at most eight month labels; half on a phone
    for i, (month, value) in enumerate(s.months):
        x = LEFT + slot * i + (slot - bar) / 2
        height = plot_h * value / top
        parts.append(
            f'<rect class="chart-bar chart-bar-{s.meter}" x="{_px(x)}" y="{_px(y(value))}" '
            f'width="{_px(bar)}" height="{_px(height)}"><title>{_month(month)}: '
            f"{escape(number(value))} {escape(s.unit)}</title></rect>"
        )
        if i % every == 0:
            minor = " chart-month-minor" if i % (2 * every) else ""
            parts.append(
                f'<text class="chart-label chart-month{minor}" x="{_px(x + bar / 2)}" '
                f'y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">{_month(month)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _meters(rows: Sequence[Reading]) -> list[dict[str, Any]]:
    """Each meter (kind and serial number) with its readings, newest first."""
    by_meter: dict[tuple[str, str], list[Reading]] = {}
    for r in rows:
        by_meter.setdefault((r.meter, r.serial), []).append(r)
    order = {m: i for i, m in enumerate(METER_KINDS)}
    meters = []
    for (meter, serial), readings in sorted(
        by_meter.items(), key=lambda k: (order.get(k[0][0], len(order)), k[0])
    ):
        readings.sort(key=lambda r: r.date, reverse=True)
        meters.append(
            {
                "label": _(METER_LABELS.get(meter, meter)),
                "serial": serial,
                "unit": readings[0].unit,
                "rows": readings,
            }
        )
    return meters


def compute(document: dict[str, Any]) -> dict[str, Any]:
    """The page's content from the document alone: computed once per generation and
    language."""
    rows = reading_rows(document)  # type: ignore[arg-type]
    charts = [
        {
            "series": s,
            "svg": render_svg(s, f"wykres-{s.meter}-{i}"),
            "text": describe(s),
            "months": [(_month(m), v) for m, v in s.months],
        }
        for i, s in enumerate(series(rows))
        if s.months
    ]
    return {"charts": charts, "meters": _meters(rows)}


async def readings_page(request: Request) -> Response:
    # The premises pages' own access check and header (portal.premises.page).
    return readings_view(Page.resident(request))


def readings_view(page: Page) -> Response:
    """The page of `page`'s premises, for the resident or in the office's preview
    (portal.panel.preview_views)."""
    content = page.derived(f"readings:{current_locale()}", compute)
    context = page.context("readings", **content)
    return templates.TemplateResponse(page.request, "premises_readings.html", context)


routes = [
    Route("/premises/{premises_id:premises_id}/readings", readings_page, name="readings"),
]

"""Balance over time as a server-rendered SVG: no JavaScript, nothing from another host, and
readable without sight (an SVG <title>/<desc> plus a month-end table for screen readers).

Colours come from CSS classes (portal/static/style.css), never `style` attributes, so a strict
Content-Security-Policy holds and print CSS can restyle the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape

from markupsafe import Markup

from portal.i18n import gettext as _
from portal.premises.ledger import Entry
from portal.web.format import date_pl, money

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 88, 16, 16, 32


@dataclass(frozen=True)
class Point:
    day: date
    balance: int  # grosze, after the last row of that day


def daily_balances(rows: Sequence[Entry]) -> list[Point]:
    """The balance at the end of each day that has rows."""
    points: dict[str, int] = {}
    for e in rows:
        points[e.date] = e.balance
    return [Point(date.fromisoformat(d), b) for d, b in points.items()]


def month_end_balances(points: Sequence[Point]) -> list[tuple[str, int]]:
    """(`MM.YYYY`, balance at the month's last row): the chart's data as a short table."""
    months: dict[str, int] = {}
    for p in points:
        months[f"{p.day.month:02d}.{p.day.year}"] = p.balance
    return list(months.items())


def _nice_step(span: int, ticks: int = 4) -> int:
    """A step of 1, 2 or 5 × 10ⁿ grosze giving about `ticks` gridlines."""
    raw = max(span / ticks, 1)
    magnitude = 10 ** (len(str(int(raw))) - 1)
    for m in (1, 2, 5, 10):
        if m * magnitude >= raw:
            return m * magnitude
    return 10 * magnitude


def describe(points: Sequence[Point]) -> str:
    """One sentence a screen reader speaks instead of the picture."""
    if not points:
        return _("Brak operacji na koncie.")
    first, last = points[0], points[-1]
    low = min(points, key=lambda p: p.balance)
    high = max(points, key=lambda p: p.balance)
    return _(
        "Saldo od %(first_day)s do %(last_day)s: na początku %(first)s, na końcu %(last)s; "
        "najniższe %(low)s (%(low_day)s), najwyższe %(high)s (%(high_day)s). "
        "Saldo dodatnie to nadpłata, ujemne to zaległość."
    ) % {
        "first_day": date_pl(first.day),
        "last_day": date_pl(last.day),
        "first": money(first.balance),
        "last": money(last.balance),
        "low": money(low.balance),
        "low_day": date_pl(low.day),
        "high": money(high.balance),
        "high_day": date_pl(high.day),
    }


def render_svg(points: Sequence[Point], chart_id: str = "wykres-salda") -> Markup:
    """A step line (the balance holds until the next booking) around a zero baseline."""
    if not points:
        return Markup("")
    values = [p.balance for p in points]
    lo, hi = min(min(values), 0), max(max(values), 0)
    step = _nice_step(hi - lo or 100)
    lo = (lo // step) * step
    hi = -((-hi) // step) * step
    if hi == lo:
        hi = lo + step
    d0 = points[0].day.toordinal()
    days = max(points[-1].day.toordinal() - d0, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        return LEFT + plot_w * (day.toordinal() - d0) / days

    def y(v: int) -> float:
        return TOP + plot_h * (hi - v) / (hi - lo)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{chart_id}-t {chart_id}-d" focusable="false">',
        f'<title id="{chart_id}-t">{escape(_("Saldo w czasie"))}</title>',
        f'<desc id="{chart_id}-d">{escape(describe(points))}</desc>',
    ]
    v = lo
    while v <= hi:
        yy = y(v)
        cls = "chart-zero" if v == 0 else "chart-grid"
        parts.append(
            f'<line class="{cls}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
        )
        parts.append(
            f'<text class="chart-label" x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">'
            f"{escape(money(v))}</text>"
        )
        v += step
    coords: list[str] = []
    prev: float | None = None
    for p in points:
        px, py = x(p.day), y(p.balance)
        if prev is not None:
            coords.append(f"{px:.1f},{prev:.1f}")
        coords.append(f"{px:.1f},{py:.1f}")
        prev = py
    if len(points) == 1:
        coords.append(f"{WIDTH - RIGHT:.1f},{prev:.1f}")
    parts.append(f'<polyline class="chart-line" fill="none" points="{" ".join(coords)}"/>')
    last = points[-1]
    sign = "chart-end-pos" if last.balance >= 0 else "chart-end-neg"
    parts.append(
        f'<circle class="chart-end {sign}" cx="{x(last.day):.1f}" '
        f'cy="{y(last.balance):.1f}" r="4"/>'
    )
    base = HEIGHT - BOTTOM + 20
    parts.append(f'<text class="chart-label" x="{LEFT}" y="{base}">{date_pl(points[0].day)}</text>')
    parts.append(
        f'<text class="chart-label" x="{WIDTH - RIGHT}" y="{base}" text-anchor="end">'
        f"{date_pl(last.day)}</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))

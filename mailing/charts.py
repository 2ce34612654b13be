"""Charts drawn on the server as inline SVG (no script, no CDN): survey tallies and read confirmations
over time. Each chart has a title and a description for screen readers; the pages show the same
figures as a table next to it."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR_COLOURS = ("#0b57d0", "#146c2e", "#b3261e", "#8a5300", "#6a1b9a", "#00695c", "#37474f")


NO_ANSWER_COLOUR = "#8b95a1"


def bar_chart(*, title: str, rows: list[tuple[str, int]], total: int, last_is_rest: bool = False) -> SafeString:
    """Horizontal bars, one per row (label, count); the percentage is of `total` (recipients).
    `last_is_rest`: the last row is "no answer"/"nothing" and is drawn grey. Sized so that the text
    stays readable when the SVG is scaled down to a phone's width."""
    label_width, bar_width, row_height = 150, 210, 36
    height = row_height * max(len(rows), 1) + 8
    width = label_width + bar_width + 120
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}"'
        f' preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    largest = max([count for _, count in rows] + [1])
    for index, (label, count) in enumerate(rows):
        y = 4 + index * row_height
        length = round(bar_width * count / largest) if count else 0
        percent = 100 * count / total if total else 0
        shown = label if len(label) <= 9 else label[:8] + "…"
        is_rest = last_is_rest and index == len(rows) - 1
        colour = NO_ANSWER_COLOUR if is_rest else BAR_COLOURS[index % len(BAR_COLOURS)]
        parts += [
            f'<text x="{label_width - 8}" y="{y + 21}" text-anchor="end" class="chart-label">{escape(shown)}</text>',
            f'<rect x="{label_width}" y="{y + 4}" width="{bar_width}" height="24" fill="#eef1f5"/>',
            f'<rect x="{label_width}" y="{y + 4}" width="{length}" height="24" fill="{colour}"/>',
            f'<text x="{label_width + bar_width + 8}" y="{y + 21}" class="chart-value">{count} ({percent:.0f}%)</text>',
        ]
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every text above is escaped


def _nice_step(span: float, steps: int) -> float:
    raw = span / steps
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return raw


def timeline_chart(
    *, title: str, points: list[tuple[datetime, int]], start: datetime, end: datetime, total: int
) -> SafeString:
    """Cumulative count over time (a step line) from `start` to `end`, the y axis up to `total`."""
    width, height = 480, 220
    left, right, top, bottom = 44, 14, 14, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max((end - start).total_seconds(), 60.0)
    ceiling = max(total, 1)

    def x(at: datetime) -> float:
        return left + plot_w * min(max((at - start).total_seconds(), 0), span) / span

    def y(value: int) -> float:
        return top + plot_h * (1 - value / ceiling)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}"'
        f' preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for value in sorted({round(ceiling * fraction) for fraction in (0, 0.25, 0.5, 0.75, 1)}):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#dde3ea"/>'
        )
        parts.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" class="chart-axis">{value}</text>')
    local_start, local_end = timezone.localtime(start), timezone.localtime(end)
    same_day = local_start.date() == local_end.date()
    for fraction in (0, 0.5, 1):
        at = start + (end - start) * fraction
        local = timezone.localtime(at)
        label = local.strftime("%H:%M") if same_day else local.strftime("%m/%d %H:%M")
        anchor = "start" if fraction == 0 else ("end" if fraction == 1 else "middle")
        parts.append(
            f'<text x="{x(at):.1f}" y="{height - 16}" text-anchor="{anchor}" class="chart-axis">{label}</text>'
        )
    path = [f"M{x(start):.1f},{y(0):.1f}"]
    previous = 0
    for at, value in points:
        path.append(f"H{x(at):.1f}V{y(value):.1f}")
        previous = value
    path.append(f"H{x(end):.1f}")
    parts.append(f'<path d="{"".join(path)}" fill="none" stroke="#0b57d0" stroke-width="2.5"/>')
    parts.append(
        f'<text x="{width - right}" y="{max(y(previous) - 6, top + 10):.1f}" text-anchor="end" class="chart-value">'
        f"{previous} / {total}</text>"
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every text above is escaped or a number

"""Inline SVG plots for the report: a score histogram and horizontal bars."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from backprop_grader.report.sanitize import esc, num


def svg_histogram(bins: Sequence[tuple[float, float, int]], max_score: float, width: int = 640,
                  height: int = 280) -> str:
    left, right, top, bottom = 44, 16, 16, 44
    w, h = width - left - right, height - top - bottom
    peak = max([c for _, _, c in bins] + [1])
    step = max(1, int(math.ceil(peak / 5)))
    ymax = step * int(math.ceil(peak / step))
    bw = w / len(bins)
    parts = ['<svg id="histogram" class="plot" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
             'viewBox="0 0 %d %d" role="img" aria-labelledby="histogram-title">' % (width, height, width, height),
             '<title id="histogram-title">Score histogram: number of students per score range</title>']
    for k in range(0, ymax + 1, step):  # y grid and labels
        y = top + h - h * k / ymax
        parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/>' % (left, y, left + w, y))
        parts.append('<text x="%d" y="%.1f" class="tick" text-anchor="end">%d</text>' % (left - 6, y + 4, k))
    for i, (lo, hi, c) in enumerate(bins):
        x = left + i * bw
        bh = h * c / ymax
        last = i == len(bins) - 1
        label = "%s–%s%s" % (num(round(lo, 6)), num(round(hi, 6)), "" if last else " (excl.)")
        parts.append('<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" data-lo="%s" '
                     'data-hi="%s" data-count="%d"><title>%s points: %d student%s</title></rect>'
                     % (x + 1, top + h - bh, bw - 2, bh, num(round(lo, 6)), num(round(hi, 6)), c,
                        esc(label), c, "" if c == 1 else "s"))
        if c:
            parts.append('<text x="%.1f" y="%.1f" class="count" text-anchor="middle">%d</text>'
                         % (x + bw / 2, top + h - bh - 4, c))
    for i in range(len(bins) + 1):  # x labels at the bin edges
        edge = bins[0][0] + i * (bins[0][1] - bins[0][0])
        parts.append('<text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>'
                     % (left + i * bw, top + h + 16, num(round(edge, 2))))
    parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>' % (left, top + h, left + w, top + h))
    parts.append('<text x="%.1f" y="%d" class="label" text-anchor="middle">score (of %s)</text>'
                 % (left + w / 2, height - 6, num(max_score)))
    parts.append('<text x="12" y="%.1f" class="label" text-anchor="middle" transform="rotate(-90 12 %.1f)">'
                 'students</text>' % (top + h / 2, top + h / 2))
    parts.append("</svg>")
    return "\n".join(parts)


def svg_hbars(rows: Sequence[tuple[str, float, str, Mapping[str, Any]]], chart_id: str, title: str,
              width: int = 640) -> str:
    """Horizontal bars: rows of (label, value in 0..1, right-hand text, {data-attr: value})."""
    label_w, bar_w, row_h, top = 250, width - 250 - 110, 22, 6
    height = top * 2 + row_h * len(rows)
    parts = ['<svg id="%s" class="plot" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
             'viewBox="0 0 %d %d" role="img"><title>%s</title>' % (chart_id, width, height, width, height,
                                                                     esc(title))]
    for i, (label, value, text, attrs) in enumerate(rows):
        y = top + i * row_h
        data = "".join(' data-%s="%s"' % (k, esc(v)) for k, v in attrs.items())
        parts.append('<text x="%d" y="%.1f" class="rowlabel" text-anchor="end">%s</text>'
                     % (label_w - 8, y + row_h * 0.68, esc(label)))
        parts.append('<rect class="track" x="%d" y="%.1f" width="%d" height="%.1f"/>'
                     % (label_w, y + 3, bar_w, row_h - 6))
        parts.append('<rect class="bar" x="%d" y="%.1f" width="%.1f" height="%.1f"%s><title>%s: %s</title></rect>'
                     % (label_w, y + 3, bar_w * max(0.0, min(1.0, value)), row_h - 6, data, esc(label),
                        esc(text)))
        parts.append('<text x="%d" y="%.1f" class="value">%s</text>'
                     % (label_w + bar_w + 8, y + row_h * 0.68, esc(text)))
    parts.append("</svg>")
    return "\n".join(parts)


"""What makes a drawn figure hard to read, found on the figure itself (``problems``): a title of more than
MAX_TITLE_LINES lines, and text that sits on other text (two tick labels of one axis, two labels or
annotations drawn in one panel). The tests render every figure and expect none."""

import math
from itertools import combinations

MAX_TITLE_LINES = 3
SLACK = 1.0  # pixels two boxes may share (anti-aliasing) before they overlap


def _lines(text):
    return text.count("\n") + 1 if text.strip() else 0


def _box(text, renderer):
    """A text's box on the page as (centre, direction of its lines, length along it, height across it), in pixels:
    a rotated label's own rectangle, not the upright box around it."""
    bbox, angle = text.get_window_extent(renderer), math.radians(text.get_rotation())
    c, s = abs(math.cos(angle)), abs(math.sin(angle))
    height = text.get_fontsize() * text.figure.dpi / 72 * (text.get_text().count("\n") + 1)
    length = (bbox.width - height * s) / c if c > 0.5 else (bbox.height - height * c) / s
    return (((bbox.x0 + bbox.x1) / 2, (bbox.y0 + bbox.y1) / 2), (math.cos(angle), math.sin(angle)), length, height)


def _overlap(a, b):
    """Whether two boxes of ``_box`` overlap: their rectangles, turned alike (tick labels share a rotation), or
    their upright boxes where they are turned differently."""
    (ca, ua, la, ha), (cb, ub, lb, hb) = a, b
    if abs(ua[0] * ub[1] - ua[1] * ub[0]) > 1e-6:  # differently turned: upright boxes, a cruder test
        ua = ub = (1.0, 0.0)
        la, ha = la * abs(a[1][0]) + ha * abs(a[1][1]), la * abs(a[1][1]) + ha * abs(a[1][0])
        lb, hb = lb * abs(b[1][0]) + hb * abs(b[1][1]), lb * abs(b[1][1]) + hb * abs(b[1][0])
    d = (cb[0] - ca[0], cb[1] - ca[1])
    along, across = abs(d[0] * ua[0] + d[1] * ua[1]), abs(-d[0] * ua[1] + d[1] * ua[0])
    return (la + lb) / 2 - along > SLACK and (ha + hb) / 2 - across > SLACK


def _collisions(texts, renderer, what):
    shown = [t for t in texts if t.get_visible() and t.get_text().strip()]
    boxes = [_box(t, renderer) for t in shown]
    return [f"{what}: {a.get_text()!r} on {b.get_text()!r}"
            for (a, x), (b, y) in combinations(zip(shown, boxes), 2) if _overlap(x, y)]


def problems(fig):
    """Each thing a reader would find hard to read in ``fig``, as a line; none for a readable figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    if (n := _lines(fig.get_suptitle())) > MAX_TITLE_LINES:
        out.append(f"the title has {n} lines (at most {MAX_TITLE_LINES})")
    for i, ax in enumerate(a for a in fig.axes if a.get_visible()):
        name = ax.get_title() or ax.get_ylabel() or f"panel {i + 1}"
        name = name.splitlines()[0] if name else name
        if (n := max(_lines(ax.get_title(loc)) for loc in ("left", "center", "right"))) > MAX_TITLE_LINES:
            out.append(f"{name}: a title of {n} lines (at most {MAX_TITLE_LINES})")
        for axis, which in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            out += _collisions(axis.get_ticklabels(), renderer, f"{name}: {which} tick labels")
        out += _collisions(ax.texts, renderer, f"{name}: labels")
    return out

"""Charts rendered on the server with matplotlib (SVG), embedded as ``data:`` image URIs.

No script and no external asset: the page's Content-Security-Policy allows images from
``data:`` only. Text is kept as SVG text in the font matplotlib ships. Rendering takes a lock
(matplotlib's font cache and text layout are shared by threads).
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402 - after choosing the backend

_LOCK = threading.Lock()
MAX_SERIES = 12


def _style() -> AbstractContextManager[None]:
    return matplotlib.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": "zone-console", "font.size": 9}
    )


def _data_uri(figure: Figure) -> str:
    buffer = io.StringIO()
    with _style():
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue().encode("utf-8")).decode("ascii")
    return f"data:image/svg+xml;base64,{encoded}"


def _empty(axes: object, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)  # type: ignore[attr-defined]


def line_chart(
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    y_label: str,
    dashed: Mapping[str, Sequence[float]] | None = None,
) -> str:
    """Lines over shared x labels (at most ``MAX_SERIES`` of each kind), as a data URI."""
    with _LOCK, _style():
        figure = Figure(figsize=(7.5, 3.0))
        axes = figure.add_subplot()
        positions = list(range(len(x_labels)))
        for name, values in list(series.items())[:MAX_SERIES]:
            axes.plot(positions, list(values), label=name, linewidth=1.5)
        for name, values in list((dashed or {}).items())[:MAX_SERIES]:
            axes.plot(positions, list(values), label=name, linestyle="--", linewidth=1.2)
        if not series and not dashed:
            _empty(axes, "nothing recorded yet")
        step = max(1, len(x_labels) // 8)
        axes.set_xticks(positions[::step], [x_labels[i] for i in positions[::step]])
        axes.set_title(title)
        axes.set_ylabel(y_label)
        axes.grid(alpha=0.3)
        if series or dashed:
            axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _data_uri(figure)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, x_label: str) -> str:
    """Horizontal bars, one per label, as a data URI."""
    with _LOCK, _style():
        height = 1.2 + 0.3 * max(1, min(len(labels), 30))
        figure = Figure(figsize=(7.5, height))
        axes = figure.add_subplot()
        if labels:
            axes.barh(list(labels)[:30], list(values)[:30], color="#4c72b0")
            axes.invert_yaxis()
        else:
            _empty(axes, "nothing recorded yet")
        axes.set_title(title)
        axes.set_xlabel(x_label)
        axes.grid(alpha=0.3, axis="x")
        return _data_uri(figure)

"""Charts rendered on the server with matplotlib (SVG), embedded as ``data:`` image URIs.

No script and no external asset: the page's Content-Security-Policy allows images from
``data:`` only. Text is kept as SVG text in the font matplotlib ships. Rendering takes a lock
(matplotlib's font cache and text layout are shared by threads).
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402 - after choosing the backend

_LOCK = threading.Lock()
T = TypeVar("T")
MAX_SERIES = 12


def _style() -> AbstractContextManager[None]:
    return matplotlib.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": "zone-console", "font.size": 9}
    )


def _data_uri(figure: Figure) -> str:
    buffer = io.StringIO()
    with _style():
        figure.savefig(buffer, format="svg")
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
        figure = Figure(figsize=(9.0, 3.2))
        figure.subplots_adjust(left=0.07, right=0.72, bottom=0.12, top=0.9)
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
        figure = Figure(figsize=(9.0, height))
        figure.subplots_adjust(left=0.3, right=0.95, bottom=0.5 / height + 0.1, top=0.85)
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


class ChartCache:
    """Charts (and the queries behind them) reused for ``max_age`` seconds.

    matplotlib takes 100-250 ms per chart on a loaded 2-core machine; an overview with three
    would exceed a page budget of 300 ms. A chart is recomputed when its copy is older than
    ``max_age``, so a page may show data up to that old (it says so).
    """

    def __init__(self, max_age: float = 15.0, *, clock: Callable[[], float] = time.monotonic):
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[float, Any]] = {}

    def get(self, name: str, produce: Callable[[], T]) -> tuple[T, float]:
        """The kept value of ``name`` if fresh, else ``produce()``; and its age in seconds."""
        now = self._clock()
        with self._lock:
            kept = self._kept.get(name)
        if kept is not None and now - kept[0] < self._max_age:
            return kept[1], now - kept[0]
        value = produce()
        with self._lock:
            self._kept[name] = (self._clock(), value)
        return value, 0.0

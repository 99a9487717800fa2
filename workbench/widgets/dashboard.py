"""Metric dashboard: compare benchmark runs side by side (plotly FigureWidgets in ipywidgets).

Reads run folders written by :mod:`workbench.runners` through
:mod:`workbench.runners.runs_index` (no model calls, no recomputed numbers) and shows, for the
runs the filters leave:

* per-object J&F bars of VOS runs (one bar group per object, one colour per run);
* per-frame J and F curves (frames 1 .. n-2 as the DAVIS protocol scores them);
* k-click mIoU curves of image runs (dashed: oracle best-of-3) with the 85 / 90 % lines;
* PVS curves (SAM 2's promptable video segmentation): J&F after k annotated frames, one line
  per run (dashed: online mode);
* VOS summary and NoC tables;
* FPS bars (per sequence and overall, propagation only).

Filters (``backend``, ``model``, ``dataset``, ``runs``) are multi-selects; an empty selection
means "all". Runs with untrained weights carry ``(UNTRAINED)`` in every legend entry and
hatched bars. :meth:`MetricDashboard.to_html` writes a self-contained static page (plotly.js
inline, works offline) in one call.
"""

from __future__ import annotations

import html
import importlib.util
import os
import time
from pathlib import Path

import ipywidgets as W
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from ..errors import UnknownNameError
from ..runners.card import UNTRAINED_BANNER
from ..runners.runs_index import (
    load_click_curves,
    load_frame_curves,
    load_pvs_curves,
    load_runs,
    load_vos_sequences,
)

__all__ = ["FIGURES", "FILTERS", "MetricDashboard"]

FILTERS = ("backend", "model", "dataset", "runs")
"""Names of the filter widgets (:attr:`MetricDashboard.filters`)."""
FIGURES = ("sequences", "frames", "clicks", "pvs", "fps", "vos_table", "noc_table")
"""Names of the figures (:attr:`MetricDashboard.figures`), in display order."""

_TITLES = {
    "sequences": "Per-object J&F (DAVIS)",
    "frames": "Per-frame J and F",
    "clicks": "k-click mIoU (dashed: oracle best-of-3)",
    "pvs": "PVS: J&F after k annotated frames (dashed: online)",
    "fps": "Propagation speed (FPS)",
    "vos_table": "VOS summary",
    "noc_table": "Interactive segmentation: NoC and mIoU@k",
}
_DASHES = ("solid", "dot", "dash", "dashdot", "longdash", "longdashdot")


def _fmt(v) -> str:
    if isinstance(v, float):
        return "—" if pd.isna(v) else f"{v:.3f}"
    return str(v)


class MetricDashboard:
    """Interactive comparison of benchmark runs.

    Parameters
    ----------
    source : path, list of paths or None
        A folder of run folders (default None: ``$WORKBENCH_REPORTS_DIR`` or ``./reports``),
        one run folder, or a list of run folders / roots (see
        :func:`workbench.runners.runs_index.load_runs`).
    kinds : str or list of str, optional
        Only these run kinds (``"vos"``, ``"image"``, ``"pvs"``, ...).
    height : int
        Height of each plot, pixels.

    Attributes
    ----------
    runs : pandas.DataFrame
        All loaded runs (:func:`load_runs`).
    filters : dict name -> ipywidgets.SelectMultiple
        Keys :data:`FILTERS`; an empty selection means "all".
    figures : dict name -> plotly.graph_objects.FigureWidget
        Keys :data:`FIGURES`. Every trace's ``meta`` is its ``run_id``.
    widget : ipywidgets.VBox
        The whole dashboard (displayed when the object is the last expression of a cell).

    Raises
    ------
    DatasetNotFoundError
        ``source`` does not exist.
    """

    def __init__(self, source=None, kinds=None, height: int = 340):
        self.source, self.kinds, self.height = source, kinds, height
        self._muted = False
        self.filters = {
            name: W.SelectMultiple(
                options=[], rows=4, description=name, layout=W.Layout(width="32%" if name == "runs" else "22%")
            )
            for name in FILTERS
        }
        for w in self.filters.values():
            w.observe(self._on_filter, names="value")
        self.figures = {name: go.FigureWidget() for name in FIGURES}
        self.figures["frames"] = go.FigureWidget(
            make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=("J", "F"))
        )
        self.banner = W.HTML()
        self.status = W.HTML()
        rescan = W.Button(description="Rescan", icon="refresh", tooltip="Read the run folders again")
        rescan.on_click(lambda _b: self.refresh())
        self.widget = W.VBox(
            [
                W.HTML("<h3>Benchmark runs</h3>"),
                self.banner,
                W.HBox(list(self.filters.values())),
                W.HBox([rescan, self.status]),
                *self.figures.values(),
            ]
        )
        self.refresh()

    # -- data ---------------------------------------------------------------------------------------
    def refresh(self) -> MetricDashboard:
        """Rescan the run folders, update the filter options (keeping selections that still
        exist) and redraw."""
        self.runs = load_runs(self.source, self.kinds)
        self.sequences = load_vos_sequences(self.runs)
        self.frame_curves = load_frame_curves(self.runs)
        self.click_curves = load_click_curves(self.runs)
        self.pvs_curves = load_pvs_curves(self.runs)
        palette = qualitative.Plotly + qualitative.D3
        self.colors = {rid: palette[i % len(palette)] for i, rid in enumerate(self.runs["run_id"])}
        self._muted = True
        try:
            for name, w in self.filters.items():
                old = set(w.value)
                opts: list[tuple[str, str]] | list[str]
                if name == "runs":
                    opts = [(f"{r.run_id}: {r.legend} · {r.dataset}", r.run_id) for r in self.runs.itertuples()]
                else:
                    opts = sorted({str(v) for v in self.runs[name]})
                w.options = opts
                valid = [o[1] if isinstance(o, tuple) else o for o in opts]
                w.value = tuple(v for v in valid if v in old)
        finally:
            self._muted = False
        self._redraw()
        return self

    def visible_runs(self) -> pd.DataFrame:
        """The runs the filters leave (all runs where a filter selects nothing)."""
        keep = pd.Series(True, index=self.runs.index)
        for name, w in self.filters.items():
            if w.value:
                col = "run_id" if name == "runs" else name
                keep &= self.runs[col].astype(str).isin([str(v) for v in w.value])
        return self.runs[keep]

    def select(self, **values) -> MetricDashboard:
        """Set filters by name, e.g. ``select(model=["dis-flow"], runs=[...])``; ``None`` or
        ``[]`` clears one (shows all). Redraws once.

        Raises
        ------
        UnknownNameError
            Unknown filter name or value (the message lists the valid ones).
        """
        for name, vals in values.items():
            if name not in self.filters:
                raise UnknownNameError("dashboard filter", name, FILTERS)
            w = self.filters[name]
            valid = [o[1] if isinstance(o, tuple) else o for o in w.options]
            for v in vals or ():
                if v not in valid:
                    raise UnknownNameError(f"{name} value", v, valid)
        self._muted = True
        try:
            for name, vals in values.items():
                self.filters[name].value = tuple(vals or ())
        finally:
            self._muted = False
        self._redraw()
        return self

    def _on_filter(self, _change) -> None:
        if not self._muted:
            self._redraw()

    # -- drawing ------------------------------------------------------------------------------------
    def _redraw(self) -> None:
        runs = self.visible_runs()
        ids = set(runs["run_id"])
        legend = dict(zip(self.runs["run_id"], self.runs["legend"]))
        untrained = runs[runs["untrained"].astype(bool)]
        self.banner.value = (
            ""
            if untrained.empty
            else (
                f"<div style='background:#fde2e1;border:2px solid #c00;padding:6px'><b>⚠ {html.escape(UNTRAINED_BANNER)}"
                f"</b><br>Runs: {html.escape(', '.join(untrained['legend']))}</div>"
            )
        )
        self.status.value = (
            f"&nbsp;{len(runs)} of {len(self.runs)} runs shown "
            f"({(runs['kind'] == 'vos').sum()} VOS, {(runs['kind'] == 'image').sum()} image, "
            f"{(runs['kind'] == 'pvs').sum()} PVS)"
        )
        seq = self.sequences[self.sequences["run_id"].isin(ids)]
        frames = self.frame_curves[self.frame_curves["run_id"].isin(ids)]
        clicks = self.click_curves[self.click_curves["run_id"].isin(ids)]
        pvs = self.pvs_curves[self.pvs_curves["run_id"].isin(ids)]
        self._draw_sequences(seq, legend)
        self._draw_frames(frames, legend)
        self._draw_clicks(clicks, legend)
        self._draw_pvs(pvs, legend)
        self._draw_fps(seq, runs, legend)
        self._draw_tables(runs)

    def _reset(self, name: str, traces: list, empty: str | None, **layout) -> None:
        fig = self.figures[name]
        with fig.batch_update():
            fig.data = []
            fig.layout.annotations = [a for a in fig.layout.annotations if a.name != "empty"]
        if traces:
            fig.add_traces(traces)
        with fig.batch_update():
            fig.update_layout(
                title=_TITLES[name],
                height=layout.pop("height", self.height),
                margin=dict(l=50, r=20, t=50, b=40),
                **layout,
            )
            if not traces and empty:
                fig.add_annotation(
                    name="empty",
                    text=empty,
                    showarrow=False,
                    xref="paper",
                    yref="paper",
                    x=0.5,
                    y=0.5,
                    font=dict(size=14, color="gray"),
                )

    def _bar_style(self, run_id: str) -> dict:
        untrained = bool(self.runs.loc[self.runs["run_id"] == run_id, "untrained"].iloc[0])
        return dict(marker_color=self.colors[run_id], marker_pattern_shape="/" if untrained else "")

    def _draw_sequences(self, seq: pd.DataFrame, legend: dict) -> None:
        traces = []
        for rid, g in seq.groupby("run_id", sort=False):
            traces.append(
                go.Bar(
                    name=legend[rid],
                    meta=rid,
                    x=g["object"].tolist(),
                    y=g["J&F-Mean"].tolist(),
                    customdata=g[["J-Mean", "F-Mean", "frames"]].to_numpy().tolist(),
                    **self._bar_style(rid),
                    hovertemplate="<b>%{fullData.name}</b><br>%{x}<br>J&F %{y:.3f}<br>J %{customdata[0]:.3f}"
                    "<br>F %{customdata[1]:.3f}<br>%{customdata[2]} frames<extra></extra>",
                )
            )
        self._reset(
            "sequences", traces, "no VOS runs selected", barmode="group", yaxis=dict(title="J&F-Mean", range=[0, 1])
        )

    def _draw_frames(self, frames: pd.DataFrame, legend: dict) -> None:
        traces = []
        for rid, g in frames.groupby("run_id", sort=False):
            for k, (obj, o) in enumerate(g.groupby("object", sort=False)):
                for row, metric in ((1, "J"), (2, "F")):
                    t = go.Scatter(
                        name=f"{legend[rid]} · {obj}",
                        meta=rid,
                        legendgroup=rid,
                        showlegend=row == 1,
                        x=o["frame"].tolist(),
                        y=o[metric].tolist(),
                        mode="lines+markers",
                        marker_size=4,
                        line=dict(color=self.colors[rid], dash=_DASHES[k % len(_DASHES)]),
                        hovertemplate=f"<b>%{{fullData.name}}</b><br>frame %{{x}}<br>{metric} %{{y:.3f}}<extra></extra>",
                    )
                    traces.append((t, row))
        fig = self.figures["frames"]
        self._reset("frames", [], None if traces else "no VOS runs selected", height=int(self.height * 1.5))
        for t, row in traces:
            fig.add_trace(t, row=row, col=1)
        fig.update_yaxes(range=[0, 1.02])
        fig.update_xaxes(title_text="frame index", row=2, col=1)

    def _draw_clicks(self, clicks: pd.DataFrame, legend: dict) -> None:
        traces = []
        for rid, g in clicks.groupby("run_id", sort=False):
            name = legend[rid]
            traces.append(
                go.Scatter(
                    name=name,
                    meta=rid,
                    legendgroup=rid,
                    x=g["clicks"].tolist(),
                    y=g["mIoU"].tolist(),
                    mode="lines+markers",
                    line_color=self.colors[rid],
                    hovertemplate="<b>%{fullData.name}</b><br>%{x} clicks<br>mIoU %{y:.3f}<extra></extra>",
                )
            )
            if "oracle-mIoU" in g:
                traces.append(
                    go.Scatter(
                        name=f"{name} oracle",
                        meta=rid,
                        legendgroup=rid,
                        x=g["clicks"].tolist(),
                        y=g["oracle-mIoU"].tolist(),
                        mode="lines",
                        line=dict(color=self.colors[rid], dash="dash"),
                        hovertemplate="<b>%{fullData.name}</b><br>%{x} clicks<br>oracle mIoU %{y:.3f}<extra></extra>",
                    )
                )
        self._reset(
            "clicks",
            traces,
            "no image runs selected",
            xaxis=dict(title="number of clicks", dtick=1),
            yaxis=dict(title="mIoU", range=[0, 1]),
        )
        fig = self.figures["clicks"]
        fig.layout.shapes = []
        if traces:
            for thr in (0.85, 0.90):
                fig.add_hline(y=thr, line=dict(color="gray", width=1, dash="dot"))

    def _draw_pvs(self, curves: pd.DataFrame, legend: dict) -> None:
        traces = []
        for rid, g in curves.groupby("run_id", sort=False):
            mode, policy = str(g["mode"].iloc[0]), str(g["policy"].iloc[0])
            name = f"{legend[rid]} · {mode}" + ("" if policy == "sam2" else f" · {policy}")
            traces.append(
                go.Scatter(
                    name=name,
                    meta=rid,
                    x=g["annotated_frames"].tolist(),
                    y=g["J&F-Mean"].tolist(),
                    customdata=g[["J-Mean", "F-Mean"]].to_numpy().tolist(),
                    mode="lines+markers",
                    line=dict(color=self.colors[rid], dash="dash" if mode == "online" else "solid"),
                    hovertemplate="<b>%{fullData.name}</b><br>%{x} annotated frames<br>J&F %{y:.3f}"
                    "<br>J %{customdata[0]:.3f}<br>F %{customdata[1]:.3f}<extra></extra>",
                )
            )
        self._reset(
            "pvs",
            traces,
            "no PVS runs selected",
            xaxis=dict(title="annotated frames", dtick=1),
            yaxis=dict(title="J&F", range=[0, 1]),
        )

    def _draw_fps(self, seq: pd.DataFrame, runs: pd.DataFrame, legend: dict) -> None:
        traces = []
        overall = dict(zip(runs["run_id"], runs["FPS"] if "FPS" in runs else [float("nan")] * len(runs)))
        for rid, g in seq.groupby("run_id", sort=False):
            g = g.drop_duplicates("sequence")
            x = [*g["sequence"].tolist(), "all"]
            y = [*g["FPS"].astype(float).tolist(), float(overall.get(rid, float("nan")))]
            traces.append(
                go.Bar(
                    name=legend[rid],
                    meta=rid,
                    x=x,
                    y=y,
                    **self._bar_style(rid),
                    hovertemplate="<b>%{fullData.name}</b><br>%{x}<br>%{y:.2f} frames/s<extra></extra>",
                )
            )
        self._reset("fps", traces, "no VOS runs selected", barmode="group", yaxis=dict(title="frames / s"))

    def _table(self, name: str, df: pd.DataFrame, cols: list[str], empty: str) -> None:
        cols = [c for c in cols if c in df and (c in ("legend", "dataset") or df[c].notna().any())]
        traces = []
        if not df.empty:
            traces.append(
                go.Table(
                    header=dict(
                        values=["run" if c == "legend" else c for c in cols], fill_color="#eeeeee", align="left"
                    ),
                    cells=dict(values=[[_fmt(v) for v in df[c]] for c in cols], align="left"),
                )
            )
        self._reset(name, traces, empty, height=max(120, 60 + 28 * len(df)))

    def _draw_tables(self, runs: pd.DataFrame) -> None:
        vos = runs[runs["kind"] == "vos"]
        self._table(
            "vos_table",
            vos,
            [
                "legend",
                "dataset",
                "prompt",
                "items",
                "J&F-Mean",
                "J-Mean",
                "F-Mean",
                "J-Decay",
                "F-Decay",
                "FPS",
                "frames",
                "run_id",
            ],
            "no VOS runs selected",
        )
        img = runs[runs["kind"] == "image"]
        miou = sorted((c for c in runs.columns if c.startswith("mIoU@")), key=lambda c: int(c.split("@")[1]))
        self._table(
            "noc_table",
            img,
            ["legend", "dataset", "items", "NoC@85", "NoC@90", *miou, "box-mIoU", "latency_ms", "run_id"],
            "no image runs selected",
        )

    # -- display and export -------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def to_html(self, path: str | Path, title: str = "Benchmark dashboard") -> Path:
        """Write the dashboard as one static, self-contained HTML page (plotly.js inline, so it
        works offline; about 5 MB): untrained banner, run list and every figure of the runs
        currently shown, with hover values. Written atomically (temp file + rename).

        Returns
        -------
        Path
        """
        runs = self.visible_runs()
        cols = ["run_id", "kind", "label", "dataset", "items", "status", "wall_time_s", "device", "git_commit"]
        parts = [
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif;margin:20px'><h1>{html.escape(title)}</h1>",
            f"<p>Generated {time.strftime('%Y-%m-%d %H:%M:%S')} from {len(runs)} runs.</p>",
            self.banner.value,
            runs[[c for c in cols if c in runs]].to_html(index=False, border=0, na_rep="—"),
        ]
        for i, name in enumerate(FIGURES):
            fig = go.Figure(self.figures[name])
            parts.append(fig.to_html(full_html=False, include_plotlyjs=i == 0, div_id=f"fig-{name}"))
        parts.append("</body></html>")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text("\n".join(parts), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def export_static(self, folder: str | Path) -> dict[str, Path]:
        """Static export for reports in one call: ``dashboard.html`` (:meth:`to_html`), the tidy
        tables of the runs shown as CSV (``runs.csv``, ``vos_sequences.csv``,
        ``frame_curves.csv``, ``click_curves.csv``, ``pvs_curves.csv``) and, only when ``kaleido`` is installed, one
        PNG per figure (``<figure>.png``).

        Returns
        -------
        dict name -> Path
            The files written.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = {"html": self.to_html(folder / "dashboard.html")}
        ids = set(self.visible_runs()["run_id"])
        tables = {
            "runs": self.runs,
            "vos_sequences": self.sequences,
            "frame_curves": self.frame_curves,
            "click_curves": self.click_curves,
            "pvs_curves": self.pvs_curves,
        }
        for name, df in tables.items():
            path = folder / f"{name}.csv"
            tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
            df[df["run_id"].isin(ids)].to_csv(tmp, index=False)
            os.replace(tmp, path)
            out[name] = path
        if importlib.util.find_spec("kaleido") is not None:
            for name in FIGURES:
                path = folder / f"{name}.png"
                go.Figure(self.figures[name]).write_image(str(path))
                out[f"{name}_png"] = path
        return out

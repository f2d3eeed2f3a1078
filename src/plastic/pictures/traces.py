"""A views.Traces: time series on stacked axes (<name>.png) and, with `animate`, a GIF of the
drawn series traced over the reference (<name>.gif)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plastic.pictures import primitives as viz


def draw(view, folder: Path, viz_cfg) -> list[Path]:
    written = [_still(view, folder / f"{view.name}.png")]
    if view.animate:
        written.append(_animation(view, folder / f"{view.name}.gif", viz_cfg.gif_fps))
    return written


def _panels(view) -> list[str]:
    overlaid = {name for names in view.overlay.values() for name in names}
    return [name for name in view.series if name not in overlaid]


def _still(view, path: Path) -> Path:
    panels = _panels(view)
    fig, axes = viz.plt.subplots(
        len(panels), 1, figsize=(9, 2.3 * len(panels) + 0.2), sharex=True, squeeze=False
    )
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        if view.shaded_until is not None:
            ax.axvspan(view.time[0], view.shaded_until, color="0.92", lw=0)
        drawn = [panel, *view.overlay.get(panel, [])]
        for k, name in enumerate(drawn):
            colour = "0.4" if len(drawn) > 1 and k == 0 else f"C{3 if k else 0}"
            values = np.asarray(view.series[name], dtype=np.float64)
            finite = np.isfinite(values) if values.ndim == 1 else slice(None)
            ax.plot(view.time[finite], values[finite], color=colour, lw=0.9, label=name)
        if panel in view.log_scale:
            ax.set_yscale("log")
        if len(drawn) > 1:
            ax.legend(loc="upper right", fontsize=8)
        ax.set_ylabel(panel)
    axes[-1, 0].set_xlabel(view.xlabel)
    fig.tight_layout()
    return viz.save_figure(fig, path)


def _animation(view, path: Path, fps: float, n_frames: int = 40) -> Path:
    reference_name, drawn_name = view.animate
    reference = np.asarray(view.series[reference_name], dtype=np.float64)
    drawn = np.asarray(view.series[drawn_name], dtype=np.float64)
    t = view.time
    low, high = min(reference.min(), -1.5), max(reference.max(), 1.5)
    frames = []
    for end in np.linspace(len(t) / n_frames, len(t), n_frames).astype(int):
        fig, ax = viz.plt.subplots(figsize=(6, 2.2), dpi=80)
        ax.plot(t, reference, color="0.6", lw=1)
        ax.plot(t[:end], drawn[:end], color="C3", lw=1)
        ax.set_xlim(t[0], t[-1])
        ax.set_ylim(low, high)
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
        viz.plt.close(fig)
    return viz.write_gif(path, frames, fps)

"""Pictures, one module per kind: what the runner draws into a run folder.

- `fields`: the receptive-field mosaic at the last record (fields.png) and its GIF over the run
  (receptive_fields.gif), from the recorder's snapshots; every rule gets them;
- `curves`: the recorded metrics against the step (curves.png);
- one module per view a rule returns from `analyse` (plastic.views): `mosaic`, `movie`,
  `traces`, `matrices`, `panels`.

Rules never import this package: they return views, and `draw` picks the module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plastic import views


def draw(view: Any, folder: Path, viz_cfg: Any) -> list[Path]:
    """Draw one view into `folder`; returns the files written."""
    from plastic.pictures import matrices, mosaic, movie, panels, traces

    drawers = {
        views.Mosaic: mosaic.draw,
        views.Movie: movie.draw,
        views.Traces: traces.draw,
        views.Matrices: matrices.draw,
        views.Panels: panels.draw,
    }
    drawer = drawers.get(type(view))
    if drawer is None:
        raise TypeError(f"no picture for a {type(view).__name__}: plastic.views lists the views")
    return drawer(view, Path(folder), viz_cfg)

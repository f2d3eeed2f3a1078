"""The mosaics are coloured without matplotlib, with its own colour tables: equal bit for bit,
so the GIFs look as they did; and `plastic.pictures.primitives` loads matplotlib only when a
figure is drawn."""

import subprocess
import sys

import numpy as np
import pytest

from plastic.pictures import primitives as viz


@pytest.mark.parametrize("name, table", [("gray", viz.GRAY), ("bwr", viz.BWR)])
def test_the_colour_tables_are_matplotlibs(name, table):
    import matplotlib

    cmap = matplotlib.colormaps[name].resampled(256)
    values = np.concatenate([np.random.default_rng(0).random(50_000), np.linspace(0, 1, 4097)])
    ours = (viz.colour(values, table) * 255).astype(np.uint8)
    theirs = (cmap(values)[..., :3] * 255).astype(np.uint8)
    assert np.array_equal(ours, theirs)


def test_a_mosaic_needs_no_matplotlib():
    code = (
        "import sys, numpy as np\n"
        "from plastic.pictures import primitives as viz\n"
        "frame = viz.fields_frame(np.random.default_rng(0).normal(size=(4, 16)), (4, 4), 8)\n"
        "assert frame.shape[-1] == 3\n"
        "print('matplotlib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"

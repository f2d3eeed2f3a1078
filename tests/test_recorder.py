"""The recorder keeps every metric row but a bounded, evenly thinned set of frames."""

import numpy as np

from plastic.trainer import Recorder


def fill(recorder, n):
    for step in range(n):
        recorder.record(step * 10, step / 100, np.full((2, 3), float(step)), {"m": step})


def test_frames_stay_bounded_and_evenly_spaced():
    recorder = Recorder(["m"], max_frames=10)
    fill(recorder, 1000)
    assert len(recorder.rows) == 1000
    assert len(recorder.frames) <= 20
    gaps = np.diff(recorder.frame_steps)
    assert (gaps == gaps[0]).all() and recorder.frame_steps[0] == 0
    gif = recorder.gif_frames()
    assert len(gif) <= 10 and gif[0][0] == 0
    assert gif[-1][0] == 9990 and gif[-1][1][0, 0] == 999  # the last record is the last frame
    changes = [row["weight_change"] for row in recorder.rows]
    assert np.isnan(changes[0])  # no record before it
    assert np.isnan(changes[1])  # relative to all-zero fields: undefined, not 1e12
    assert changes[2] == np.sqrt(6 * 1.0 / (6 * 1.0**2))  # |2 - 1| / |1| on every element
    assert changes[3] == 0.5


def test_state_round_trip_continues_identically():
    whole, first = Recorder(["m"], max_frames=4), Recorder(["m"], max_frames=4)
    fill(whole, 50)
    fill(first, 23)
    second = Recorder(["m"], max_frames=4)
    second.load(first.state())
    for step in range(23, 50):
        second.record(step * 10, step / 100, np.full((2, 3), float(step)), {"m": step})
    for column in whole.columns:
        np.testing.assert_array_equal(
            [r[column] for r in second.rows], [r[column] for r in whole.rows]
        )  # NaN equals NaN here
    assert second.frame_steps == whole.frame_steps and second.stride == whole.stride

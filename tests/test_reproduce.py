"""The spec's check for oja: after 10,000 trials the 16 bars are covered (>= 14 on 4 of 5 seeds)."""

import json


def test_bars_oja_covers_the_bars_on_four_of_five_seeds(cli):
    result = cli(
        "run", "-m", "experiment=bars_oja", "seed=0,1,2,3,4", "viz.gif_max_frames=2", timeout=400
    )
    assert result.returncode == 0, result.stderr
    summaries = sorted((cli.cwd / "outputs" / "multirun").glob("*/*/*/summary.json"))
    coverage = [json.loads(s.read_text())["metrics"]["bar_coverage"] for s in summaries]
    assert len(coverage) == 5
    assert sum(c >= 14 for c in coverage) >= 4, coverage

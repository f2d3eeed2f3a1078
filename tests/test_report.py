"""`plastic report` concludes a sweep: replicates aggregated, the best condition named and
tested against the runner-up, learning tested against the untrained control, and runs of any
models compared on their resolved configs. The sweeps here are written by hand (fixtures), so
that what the report must find is known by construction."""

import csv
import json
import math

import numpy as np
import pytest
import yaml

from plastic import replicates as rep
from plastic.cli import main
from plastic.report import report

BETTER = {"2000": [15.0, 16.0, 15.0, 16.0], "1000": [11.0, 12.0, 12.0, 10.0]}


def write_run(folder, overrides, metrics, config=None, status="completed", curve=None):
    """A finished run folder as plastic writes one: overrides, config, summary, metrics.csv."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config or {"seed": 0}))
    summary = {
        "status": status,
        "reason": "",
        "metrics": metrics,
        "verdict": "",
        "goals": {"bar_coverage": "max", "mean_best_cosine": "max"},
        "controls": {"bar_coverage": "bar_coverage_random"},
        "judged": {"metric": "bar_coverage", "control": "bar_coverage_random"},
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    steps = np.arange(0, 500, 100)
    curve = curve if curve is not None else np.linspace(0, metrics["bar_coverage"], len(steps))
    with (folder / "metrics.csv").open("w") as f:
        f.write("step,bar_coverage\n")
        f.writelines(f"{s},{v}\n" for s, v in zip(steps, curve, strict=True))


def write_sweep(folder, values=BETTER, key="model.tau_learning", order=None):
    """A sweep of conditions x seeds; `order[c]` permutes which seed gets which value."""
    job = 0
    for condition, results in values.items():
        permutation = (order or {}).get(condition, range(len(results)))
        for seed, index in enumerate(permutation):
            coverage = results[index]
            write_run(
                folder / str(job),
                [f"{key}={condition}", f"seed={seed}"],
                {
                    "bar_coverage": coverage,
                    "bar_coverage_random": 0.0,
                    "mean_best_cosine": 0.5 + coverage / 100,
                    "probe_train_samples": 300.0,
                },
            )
            job += 1
    return folder


def test_the_better_condition_is_named_best_beyond_the_noise(tmp_path):
    result = report(write_sweep(tmp_path / "sweep"))
    findings = result["findings"]
    assert findings.condition_keys == ["model.tau_learning"]
    assert findings.replicate_keys == ["seed"]
    answer = next(a for a in findings.answers if a.metric == "bar_coverage")
    assert answer.best.label == "model.tau_learning=2000"
    assert answer.runner_up.label == "model.tau_learning=1000"
    assert answer.p_value < 0.05 and answer.differs and answer.hedges_g > 1
    # by hand: Welch's t statistic and its two-sided p
    a, b = np.array(BETTER["2000"]), np.array(BETTER["1000"])
    se = math.sqrt(a.var(ddof=1) / 4 + b.var(ddof=1) / 4)
    assert (a.mean() - b.mean()) / se == pytest.approx(
        __import__("scipy").stats.ttest_ind(a, b, equal_var=False).statistic
    )
    # learning beat the untrained network in both conditions (paired by seed)
    beat = {r.condition.label: r.beat for r in findings.against["bar_coverage"]}
    assert beat == {"model.tau_learning=1000": True, "model.tau_learning=2000": True}


def test_a_lower_is_better_metric_names_the_smallest_best():
    groups = [
        rep.Condition((("k", "a"),), [_row(v) for v in (1.0, 1.2, 1.1)]),
        rep.Condition((("k", "b"),), [_row(v) for v in (3.0, 3.1, 2.9)]),
    ]
    answer = rep.best_and_runner_up(groups, "m", "min")
    assert answer.best.label == "k=a" and answer.differs
    assert rep.best_and_runner_up(groups, "m", "max").best.label == "k=b"


def test_noise_alone_is_not_called_a_difference():
    rng = np.random.default_rng(3)
    groups = [rep.Condition((("k", c),), [_row(v) for v in rng.normal(0, 1, 4)]) for c in "ab"]
    answer = rep.best_and_runner_up(groups, "m", "max")
    assert answer.p_value > 0.05 and not answer.differs
    assert "not distinguishable" in answer.words


def _row(value):
    return {"status": "completed", "metrics": {"m": value}, "overrides": {}}


def test_aggregates_are_mean_sd_n_and_a_t_interval():
    a = rep.Aggregate((15.0, 16.0, 15.0, 16.0))
    assert (a.n, a.mean) == (4, 15.5)
    assert a.sd == pytest.approx(np.std([15, 16, 15, 16], ddof=1))
    half = 3.182446305284263 * a.sd / 2  # t(0.975, 3)
    assert a.ci95 == pytest.approx((15.5 - half, 15.5 + half))
    assert a.text() == "15.50 ± 0.58 (n=4)"
    assert math.isnan(rep.Aggregate((1.0,)).sd)


def test_swapping_the_seeds_changes_no_aggregate(tmp_path):
    first = report(write_sweep(tmp_path / "a"))
    swapped = report(
        write_sweep(tmp_path / "b", order={"2000": [3, 1, 0, 2], "1000": [2, 3, 1, 0]})
    )
    for one, other in zip(first["findings"].groups, swapped["findings"].groups, strict=True):
        for metric in ("bar_coverage", "mean_best_cosine"):
            x, y = one.aggregate(metric), other.aggregate(metric)
            assert (x.n, x.mean, x.sd, *x.ci95) == pytest.approx((y.n, y.mean, y.sd, *y.ci95))
    p = [
        next(a for a in r["findings"].answers if a.metric == "bar_coverage").p_value
        for r in (first, swapped)
    ]
    assert p[0] == pytest.approx(p[1])
    conditions = [(tmp_path / f / "conditions.csv").read_text() for f in ("a", "b")]
    assert conditions[0] == conditions[1]


def test_the_page_and_the_tables_say_the_answer(tmp_path, capsys):
    sweep = write_sweep(tmp_path / "sweep")
    assert main(["report", str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "bar_coverage: best model.tau_learning=2000, 15.50 ± 0.58 (n=4)" in out
    assert "differs beyond the replicates' noise (Welch's t-test p = " in out
    rows = list(csv.DictReader((sweep / "conditions.csv").open()))
    assert [r["model.tau_learning"] for r in rows] == ["1000", "2000"]
    assert float(rows[1]["bar_coverage_mean"]) == 15.5 and rows[1]["n"] == "4"
    assert rows[1]["verdict"].startswith("best on bar_coverage, differs")
    page = (sweep / "index.html").read_text()
    assert "What the sweep answers" in page and 'class="scroll"' in page
    assert "pixelated" not in page
    # a figure per metric that varies, none for the constant ones
    assert (sweep / "metric_bar_coverage.svg").exists()
    assert not (sweep / "metric_bar_coverage_random.svg").exists()
    assert not (sweep / "metric_probe_train_samples.svg").exists()
    assert (sweep / "overlay_bar_coverage.svg").exists()
    # each run's row links its config, log, summary and metrics (relative: offline)
    assert 'href="0/.hydra/config.yaml"' in page and 'href="0/summary.json"' in page


def test_two_condition_keys_give_heat_maps_with_readable_cells(tmp_path):
    from plastic.pictures.sweep import label_colour

    folder = tmp_path / "grid"
    job = 0
    for tau in ("1000", "2000"):
        for alpha in ("0.1", "0.5", "1.0"):
            for seed in range(2):
                coverage = float(tau == "2000") * 8 + float(alpha) + seed
                write_run(
                    folder / str(job),
                    [f"model.tau_learning={tau}", f"model.alpha={alpha}", f"seed={seed}"],
                    {"bar_coverage": coverage, "bar_coverage_random": 0.0},
                )
                job += 1
    result = report(folder)
    assert result["findings"].condition_keys == ["model.alpha", "model.tau_learning"]
    svg = (folder / "heatmap_bar_coverage.svg").read_text()
    assert "<svg" in svg and "±" in svg
    assert label_colour((1.0, 1.0, 0.9, 1)) == "black"  # light yellow: dark text
    assert label_colour((0.27, 0.0, 0.33, 1)) == "white"  # dark violet: light text


def test_other_replicate_keys_are_named_on_the_line(tmp_path):
    folder = tmp_path / "sweep"
    job = 0
    for tau in ("1", "2"):
        for data_seed in range(3):
            write_run(
                folder / str(job),
                [f"model.tau={tau}", f"dataset.seed={data_seed}"],
                {"bar_coverage": float(tau) * 5 + data_seed, "bar_coverage_random": 0.0},
            )
            job += 1
    plain = report(folder)["findings"]
    assert plain.condition_keys == ["dataset.seed", "model.tau"]  # no replicates: 6 conditions
    named = report(folder, replicate_keys=("seed", "dataset.seed"))["findings"]
    assert named.condition_keys == ["model.tau"] and named.replicate_keys == ["dataset.seed"]
    assert [len(g.runs) for g in named.groups] == [3, 3]


def test_compare_runs_of_different_models_on_their_resolved_configs(tmp_path, capsys):
    write_run(
        tmp_path / "a",
        ["experiment=bars_oja", "seed=1"],
        {"bar_coverage": 14.0},
        config={
            "model": {"_target_": "plastic.models.oja.Oja", "tau": 10},
            "seed": 1,
            "dataset": {"name": "bars"},
        },
    )
    write_run(
        tmp_path / "b",
        ["model=hopfield", "dataset=digits"],
        {"probe_accuracy": 0.9, "bar_coverage": 3.0},
        config={
            "model": {"_target_": "plastic.models.hopfield.KrotovHopfield", "n_units": 64},
            "seed": 0,
            "dataset": {"name": "digits"},
        },
    )
    out = tmp_path / "cmp"
    assert (
        main(["report", "--compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "model._target_" in printed and "dataset.name" in printed
    page = (out / "index.html").read_text()
    for key in ("model._target_", "model.tau", "model.n_units", "dataset.name", "seed"):
        assert f">{key}<" in page
    assert "plastic.models.hopfield.KrotovHopfield" in page and "digits" in page
    assert (out / "overlay_bar_coverage.svg").exists()
    assert 'href="../a/.hydra/config.yaml"' in page


def test_compare_concludes_runs_that_differ_in_their_seed_as_replicates(tmp_path, capsys):
    """Seed runs made one by one (not one sweep) pool as the sweep's would: a condition per
    setting that differs, the seeds its replicates, learning paired against untrained."""
    runs = []
    for tau, coverages in BETTER.items():
        for seed, coverage in enumerate(coverages):
            runs.append(tmp_path / f"tau{tau}_s{seed}")
            write_run(
                runs[-1],
                [f"seed={seed}"] if seed else [],  # seed 0: the default, in no override
                {"bar_coverage": coverage, "bar_coverage_random": coverage - 1 - seed % 2},
                config={
                    "model": {"tau": int(tau)},
                    "seed": seed,
                    "dataset": {"seed": "${seed}"},  # follows the seed: no condition
                    "trainer": {"progress": "bar" if seed else "log"},  # how it shows: neither
                },
            )
    out = tmp_path / "cmp"
    assert main(["report", "--compare", *map(str, runs), "--out", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    findings = report(tmp_path / "again", compare=runs)["findings"]
    assert findings.condition_keys == ["model.tau"]  # dataset.seed follows seed: neither
    assert findings.replicate_keys == ["seed"]
    assert [(g.label, len(g.runs)) for g in findings.groups] == [
        ("model.tau=1000", 4),
        ("model.tau=2000", 4),
    ]
    against = {r.condition.label: r for r in findings.against["bar_coverage"]}
    assert against["model.tau=2000"].mean_difference == pytest.approx(1.5)
    assert against["model.tau=2000"].beat and against["model.tau=2000"].n == 4
    assert "bar_coverage against untrained, model.tau=2000: better than untrained" in printed
    best = next(a for a in findings.answers if a.metric == "bar_coverage")
    assert best.best.label == "model.tau=2000" and best.differs
    page = (out / "index.html").read_text()
    assert "paired by replicate" in page and "model.tau=2000" in page
    assert "What their replicates answer" in page
    # one seed each: nothing to pool, no conclusion
    alone = report(tmp_path / "two", compare=[runs[0], runs[4]])["findings"]
    assert not alone.replicated and alone.condition_keys == ["model.tau"]


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: None, "is not a folder"),
        (lambda p: p.mkdir(), "has no summary.json"),
        (lambda p: (p.mkdir(), (p / "summary.json").write_text("{bad")), "cannot be read"),
        (
            lambda p: write_run(p, [], {"bar_coverage": 1.0}, status="interrupted"),
            "did not complete (status interrupted)",
        ),
    ],
)
def test_compare_refuses_a_bad_run_in_one_line_and_writes_nothing(tmp_path, capsys, make, words):
    write_run(tmp_path / "good", [], {"bar_coverage": 1.0})
    make(tmp_path / "bad")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code = main(
        [
            "report",
            "--compare",
            str(tmp_path / "good"),
            str(tmp_path / "bad"),
            "--out",
            str(tmp_path / "cmp"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_compare_into_a_folder_that_holds_files_is_refused(tmp_path, capsys):
    for name in ("a", "b"):
        write_run(tmp_path / name, [], {"bar_coverage": 1.0})
    (tmp_path / "cmp").mkdir()
    (tmp_path / "cmp" / "notes.txt").write_text("mine")
    code = main(
        [
            "report",
            "--compare",
            str(tmp_path / "a"),
            str(tmp_path / "b"),
            "--out",
            str(tmp_path / "cmp"),
        ]
    )
    assert code == 2 and "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "cmp").iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["report", "--nosuchflag"], "unrecognized arguments: --nosuchflag"),
        (["report", "--compare"], "expected at least one argument"),
        (["report", "x", "--sort"], "expected one argument"),
    ],
)
def test_bad_report_flags_are_one_line(tmp_path, capsys, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_three_condition_keys_draw_parallel_coordinates(tmp_path):
    folder, job = tmp_path / "three", 0
    for a in ("1", "2"):
        for b in ("x", "y"):
            for c in ("0.1", "0.2"):
                write_run(
                    folder / str(job),
                    [f"a={a}", f"b={b}", f"c={c}"],
                    {"bar_coverage": float(a) + float(c) + (b == "y")},
                )
                job += 1
    result = report(folder)
    assert result["findings"].condition_keys == ["a", "b", "c"]
    assert "<svg" in (folder / "parallel_coordinates.svg").read_text()
    # one run per condition: the runs' table, and no test of the best against the runner-up
    answer = result["findings"].answers[0]
    assert answer.best.label == "a=2 b=y c=0.2" and answer.p_value is None
    assert "fewer than 2 replicates" in answer.words


def test_printed_paths_stay_whole_when_the_output_is_not_a_terminal(tmp_path, capsys):
    """Into a log file or CI's output nothing wraps: a printed path can be pasted."""
    deep = tmp_path / ("a_folder_name_long_enough_to_wrap_" * 4) / "sweep"
    write_sweep(deep)
    assert main(["report", str(deep)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.endswith(str(deep / "index.html")) for line in lines)
    assert max(len(line) for line in lines) > 200  # one line each, however long


def test_a_report_goes_elsewhere_with_out_and_the_sweep_stays_as_it_was(tmp_path):
    from tests.test_faults import fingerprint

    sweep = write_sweep(tmp_path / "sweep")
    before = fingerprint(sweep)
    assert main(["report", str(sweep), "--out", str(tmp_path / "page")]) == 0
    assert fingerprint(sweep) == before
    page = (tmp_path / "page" / "index.html").read_text()
    assert 'href="../sweep/0/summary.json"' in page and 'src="metric_bar_coverage.svg"' in page
    assert (tmp_path / "page" / "conditions.csv").exists()


def read_only(folder):
    """`folder` as a read-only tmpfs holding what it held, where one can be mounted (root)."""
    import shutil
    import subprocess

    keep = folder.with_name(folder.name + "_copy")
    shutil.copytree(folder, keep)
    shutil.rmtree(folder)
    folder.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "tmpfs", str(folder)], capture_output=True
    ).returncode:
        pytest.skip("no tmpfs can be mounted here (root only)")
    shutil.copytree(keep, folder, dirs_exist_ok=True)
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    return folder


def test_a_read_only_sweep_is_one_line_and_can_be_reported_elsewhere(tmp_path, capsys):
    import subprocess

    from tests.test_faults import fingerprint

    sweep = read_only(write_sweep(tmp_path / "sweep"))
    try:
        before = fingerprint(sweep)
        assert main(["report", str(sweep)]) == 2
        err = capsys.readouterr().err.strip()
        assert "cannot write" in err and "--out FOLDER" in err and len(err.splitlines()) == 1
        assert fingerprint(sweep) == before
        assert main(["report", str(sweep), "--out", str(tmp_path / "page")]) == 0
        assert main(["report", "--compare", str(sweep / "0"), str(sweep / "1"),
                     "--out", str(sweep / "cmp")]) == 2  # fmt: skip
        assert "cannot be made" in capsys.readouterr().err
        assert fingerprint(sweep) == before
    finally:
        subprocess.run(["umount", str(sweep)], capture_output=True)


def test_sigterm_stops_a_report_as_ctrl_c_does(tmp_path):
    import signal
    import subprocess
    import time

    from tests.conftest import plastic_exe

    sweep = tmp_path / "big"
    job = 0
    for tau in range(12):  # twenty metrics that vary: twenty figures to draw after sweep.csv
        for seed in range(10):
            metrics = {f"m{i}": float(tau * i + seed) for i in range(20)}
            write_run(sweep / str(job), [f"model.tau={tau}", f"seed={seed}"],
                      {"bar_coverage": float(tau), **metrics})  # fmt: skip
            job += 1
    for signum in (signal.SIGTERM, signal.SIGINT):
        process = subprocess.Popen([plastic_exe(), "report", str(sweep)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.time() + 60  # until it writes: past its start, into the drawing
        while not (sweep / "sweep.csv").exists() and time.time() < deadline:
            time.sleep(0.02)
        (sweep / "sweep.csv").unlink()  # the next round waits for its own
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
        if process.returncode == 0:
            pytest.skip("the report ended before the signal came")
        assert process.returncode == 130 and err.strip() == "plastic: error: interrupted"
        assert not list(sweep.glob(".*.tmp"))

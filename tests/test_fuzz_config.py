"""Property: any bad override, in any group, is one line and exit 2, with no traceback and no
run folder. The overrides are drawn from the schemas themselves: wrong types, values out of
bounds, unknown choices, misspelt keys (with and without +), and malformed syntax."""

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plastic.config import DeviceConfig, PlasticConfig, TrainerConfig, VerdictConfig, VizConfig
from plastic.datasets.bars import Config as BarsConfig
from plastic.models.force import Config as ForceConfig
from plastic.models.hopfield import Config as HopfieldConfig
from plastic.models.oja import Config as OjaConfig

# (the override's prefix, the choices that put that schema in place, the schema)
SECTIONS = [
    ("model", ["model=oja"], OjaConfig),
    ("model", ["model=hopfield", "dataset=digits"], HopfieldConfig),
    ("model", ["model=force", "dataset=timeline"], ForceConfig),
    ("trainer", [], TrainerConfig),
    ("device", [], DeviceConfig),
    ("viz", [], VizConfig),
    ("verdict", [], VerdictConfig),
    ("dataset", ["dataset=bars"], BarsConfig),
    ("", [], PlasticConfig),
]
NUMBERS = (int, float, int | None, float | None)


def violations(prefix: str, schema: type) -> list[str]:
    """Every override that breaks one of the schema's fields."""
    out = []
    for f in dataclasses.fields(schema):
        key = f"{prefix}.{f.name}" if prefix else f.name
        rules = f.metadata.get("rules", {})
        if f.type in NUMBERS or f.type in ("int", "float", "int | None", "float | None"):
            out.append(f"{key}=abc")
        if "gt" in rules:
            out.append(f"{key}={rules['gt'] - 1}")
        if "ge" in rules:
            out.append(f"{key}={rules['ge'] - 1}")
        if rules.keys() & {"gt", "ge", "lt", "le"} and f.type in (float, float | None, "float"):
            out.append(f"{key}=inf")  # passes "> 0" as a number: refused as not finite
        if "choices" in rules:
            out.append(f"{key}=nosuch")
        if f.type in (bool, "bool"):
            out.append(f"{key}=maybe")
        if prefix:
            out.append(f"{key}_typo=1")
            out.append(f"+{key}_typo=1")
    return out


CASES = [
    (choices, bad) for prefix, choices, schema in SECTIONS for bad in violations(prefix, schema)
]
MALFORMED = ["model.tau=[", "=3", "model..tau=1", "model.tau", "trainer.epochs=}"]
# the second round's families: flags, launchers' settings, search spaces (checked before any job)
SEARCH = ["-m", "hydra/sweeper=optuna", "optimize_metric=bar_coverage", "hydra.sweeper.n_trials=2"]
FAMILIES = [
    ([], "--nosuchflag"),
    (["-m", "seed=0,1"], "hydra.launcher.n_workers=0"),
    (["-m", "seed=0,1", "hydra/launcher=joblib"], "hydra.launcher.n_jobs=0"),
    (SEARCH, "model.tau_learning=interval(4000,500)"),
    (SEARCH, "model.tau_learning=interval(-5,-1)"),
    (SEARCH, "model.lateral_inhibition=interval(0,1)"),
    (SEARCH, "model.tau_learning=tag(log,interval(0.0,10.0))"),
    (SEARCH, "hydra.sweeper.direction=sideways"),
    (SEARCH, "hydra.sweeper.n_trials=0"),
    (SEARCH, "hydra.sweeper.storage=sqlite:////proc/nowhere/optuna.db"),
]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.sampled_from(CASES),
        st.sampled_from(MALFORMED).map(lambda m: ([], m)),
        st.sampled_from(FAMILIES),
    )
)
def test_any_bad_override_is_one_line_exit_2_and_no_folder(cli, case):
    choices, bad = case
    result = cli("run", *choices, bad)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (bad, result.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("plastic: error: "), (bad, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    made = (
        [p for p in (cli.cwd / "outputs").rglob("*") if p.is_dir()]
        if (cli.cwd / "outputs").exists()
        else []
    )
    assert not [p for p in made if any(p.iterdir())], (bad, made)

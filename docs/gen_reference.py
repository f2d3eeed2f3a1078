"""Writes reference.md at build time (mkdocs-gen-files): the command line and every setting,
from the same dataclasses and help texts that check a run and that `plastic list model=NAME`
prints, so that this page cannot drift from the code."""

import mkdocs_gen_files

from plastic import config, registry
from plastic.cli import USAGE
from plastic.listing import settings_rows


def table(schema, prefix: str) -> str:
    rows = ["| key | default | allowed | what it does |", "|---|---|---|---|"]
    for key, default, allowed, text in settings_rows(schema, prefix):
        cells = (f"`{key}`", f"`{default}`" if default else "", allowed, text)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


def first_line(target) -> str:
    return (target.__doc__ or "").strip().splitlines()[0] if target.__doc__ else ""


parts = [
    "# CLI and config reference\n",
    "Generated from the schemas when the site is built: the same keys, defaults, bounds and "
    "help texts as `plastic list model=NAME` and `plastic list dataset=NAME` print, and as a "
    "run checks at start-up.\n",
    "## The command line\n",
    f"```\n{USAGE.rstrip()}\n```\n",
    "## Run-wide sections\n",
]
sections = {
    "device": config.DeviceConfig,
    "trainer": config.TrainerConfig,
    "probe": config.ProbeConfig,
    "viz": config.VizConfig,
    "verdict": config.VerdictConfig,
    "logger.mlflow": config.MLflowConfig,
    "logger.tensorboard": config.TensorBoardConfig,
}
for prefix, schema in sections.items():
    parts += [f"### {prefix}\n", table(schema, prefix)]
for group, entry_group in (("model", registry.RULES), ("dataset", registry.DATASETS)):
    parts.append(f"## {group}=NAME\n")
    for name, offer in registry.offers(entry_group).items():
        target = registry.import_target(offer.target, group)
        parts += [f"### {group}={name}\n", f"{first_line(target)}\n", table(target.Config, group)]

with mkdocs_gen_files.open("reference.md", "w") as page:
    page.write("\n".join(parts))

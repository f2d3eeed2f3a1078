"""Where the config tree and the recipes are: inside the package (a wheel) or at the repo top."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    # An installed wheel carries conf/ and experiments/ inside the package. (An editable install
    # also leaves inert copies in site-packages/plastic/, but the package imported is src/plastic,
    # so the checkout's own, editable, folders are the ones read.)
    packaged = PACKAGE_DIR / name
    if packaged.is_dir():
        return packaged
    in_checkout = PACKAGE_DIR.parents[1] / name  # editable install: src/plastic -> repo top
    if in_checkout.is_dir():
        return in_checkout
    raise FileNotFoundError(f"plastic cannot find its {name}/ folder (looked in {packaged})")


def conf_dir() -> Path:
    return _find("conf")


def experiments_dir() -> Path:
    return _find("experiments")


def repo_dir() -> Path | None:
    """The source checkout, when plastic runs from one (for the git commit in summaries)."""
    root = PACKAGE_DIR.parents[1]
    return root if (root / ".git").exists() else None

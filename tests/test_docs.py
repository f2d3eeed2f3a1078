"""The manual's promises that a build cannot check: a short README that points only at what
a user has, and a version that agrees everywhere."""

import re
import subprocess

import plastic
from tests.conftest import REPO, run_plastic

TEXT_SUFFIXES = {".md", ".py", ".yaml", ".yml", ".toml", ".cfg", ".txt"}


def tracked_text_files():
    names = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in names:
        path = REPO / name
        if (
            path.suffix in {".md", ".py", ".yaml", ".yml", ".toml", ".cfg", ".txt"}
            and path.exists()
        ):
            yield path


def test_readme_is_short_and_links_only_to_files_that_exist():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not target.startswith("http"):
            assert (REPO / target).exists(), target


def test_nothing_points_outside_the_repository_into_the_workplace():
    # the CI script may read the workplace's copy of MNIST; nothing a user gets may
    offenders = [
        str(p.relative_to(REPO))
        for p in tracked_text_files()
        if "../shared" in p.read_text(errors="ignore") and p != REPO / "tests" / "test_docs.py"
    ]
    assert offenders == []


def test_version_agrees_with_the_changelog(tmp_path):
    result = run_plastic("--version", cwd=tmp_path)
    assert result.stdout.strip() == f"plastic {plastic.__version__}"
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(plastic.__version__)} ", changelog, re.M)


def user_pages():
    return [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").rglob("*.md"))]


def test_no_page_speaks_of_how_plastic_was_made():
    """The manual describes the product and what was measured where, not its making."""
    making = re.compile(
        r"\bsessions?\b|\blent\b|\bissues? \d|\bthe spec\b|\bspec's\b|none has been yet",
        re.I,
    )
    found = [
        f"{page.relative_to(REPO)}: {match.group(0)}"
        for page in user_pages()
        for match in making.finditer(page.read_text())
    ]
    assert found == []


def test_equations_become_mathml_at_build_time():
    """docs/hooks/mathml.py: arithmatex's marks become MathML, inline and displayed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mathml", REPO / "docs" / "hooks" / "mathml.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = type("Page", (), {"file": type("File", (), {"src_path": "x.md"})()})()
    html = (
        '<p><span class="arithmatex">\\(a &lt; b\\)</span></p>'
        '<div class="arithmatex">\\[\\tau \\frac{dr}{dt} = -r\\]</div>'
    )
    out = hook.on_page_content(html, page, None, None)
    assert "arithmatex" not in out and out.count("<math") == 2
    assert 'display="block"' in out and "&#x0003C;" in out  # the < of a &lt; b

"""The built manual works offline: it loads nothing from the network (no CDN, no web fonts),
and its equations are MathML that a browser renders with no script (checked in headless
Chromium, which is not allowed to reach the network)."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
        cwd=REPO, check=True, env=env, timeout=600,
    )  # fmt: skip
    return out


@pytest.mark.slow
def test_the_site_loads_nothing_from_the_network(site):
    remote = re.compile(r'<(?:script|link|img)[^>]+(?:src|href)="(https?:)?//', re.I)
    offenders = [
        str(page.relative_to(site))
        for page in site.rglob("*.html")
        if remote.search(page.read_text(errors="ignore"))
    ]
    assert offenders == []


@pytest.mark.slow
def test_equations_render_in_a_browser_with_no_network(site):
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    page = site / "models" / "oja" / "index.html"
    assert "<math" in page.read_text() and "\\(" not in page.read_text()
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
         f"--user-data-dir={site.parent / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert dom.count("<math") >= 5  # the equations, as the browser holds them
    assert "MathJax" not in dom

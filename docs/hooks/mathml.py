"""MkDocs hook: the manual's equations become MathML when the site is built (latex2mathml), so
that every browser shows them with no script and no network (a cluster node, a train).

pymdownx.arithmatex (generic mode) marks each equation as `<span class="arithmatex">\\(...\\)</span>`
or `<div class="arithmatex">\\[...\\]</div>`; each is replaced by its MathML. An equation that
cannot be converted stops the build with its page and its TeX (the build is --strict).
"""

import html
import re

from latex2mathml.converter import convert

MARKED = re.compile(
    r'<(span|div) class="arithmatex">\s*(\\\(|\\\[)(.*?)(\\\)|\\\])\s*</\1>', re.DOTALL
)


def on_page_content(content, page, config, files):
    def mathml(match):
        tag, opening, tex = match.group(1), match.group(2), html.unescape(match.group(3))
        display = "block" if opening == "\\[" else "inline"
        try:
            converted = convert(tex.strip(), display=display)
        except Exception as error:
            raise ValueError(f"{page.file.src_path}: cannot convert {tex!r} ({error})") from None
        return f'<{tag} class="math">{converted}</{tag}>'

    return MARKED.sub(mathml, content)

"""HTML that came from a plugin, made safe to show: an allowlist sanitiser and Markdown rendering.

Plugin output is untrusted. Notebook front-ends render a kernel's HTML and Markdown outputs as
trusted (no sanitising of their own), so anything a plugin wrote goes through here first: tags
and attributes outside a short allowlist are removed, links keep only http(s)/mailto/anchors,
images only inline PNG/JPEG/GIF/WebP data. Markdown is rendered here with raw HTML escaped
(mistune), then sanitised like any HTML.

bleach (html5lib-based) and mistune are dependencies of nbconvert, which jupyter_server needs.
"""

from __future__ import annotations

import re

import bleach
import mistune

TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s",
    "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "u", "ul",
})  # fmt: skip
_SAFE_HREF = re.compile(r"^(https?:|mailto:|#)", re.I)
_SAFE_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$", re.I)
_CELL_ATTRIBUTES = frozenset({"colspan", "rowspan", "align"})
#: Elements whose content is code or styling, not text: dropped whole (the cleaner keeps text).
_WITH_CONTENT = re.compile(
    r"<(script|style|iframe|object|embed|template|noscript|svg|math)\b.*?</\1\s*>", re.I | re.S
)


def _allowed(tag: str, name: str, value: str) -> bool:
    if tag == "a":
        return name == "title" or (name == "href" and bool(_SAFE_HREF.match(value)))
    if tag == "img":
        return name in {"alt", "title", "width", "height"} or (
            name == "src" and bool(_SAFE_IMAGE.match(value))
        )
    if tag in {"td", "th"}:
        return name in _CELL_ATTRIBUTES
    return name == "title"


_CLEANER = bleach.Cleaner(
    tags=TAGS,
    attributes=_allowed,
    protocols=frozenset({"http", "https", "mailto", "data"}),
    strip=True,
    strip_comments=True,
)
_MARKDOWN = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


def sanitize_html(text: str) -> str:
    """``text`` with every tag and attribute outside the allowlist removed (their text kept)."""
    return str(_CLEANER.clean(_WITH_CONTENT.sub("", text)))


def markdown_to_html(text: str) -> str:
    """Markdown rendered to sanitised HTML; raw HTML in the Markdown shows as text."""
    return sanitize_html(str(_MARKDOWN(text)))

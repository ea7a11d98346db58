"""Text made safe for the report's HTML: escaping, shortening at a word boundary, and
sanitising student HTML (bleach, through nbconvert's `clean_html` filter)."""
from __future__ import annotations

import html

from backprop_grader.report import results


def esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def num(x: object) -> str:
    return results.num(x) if isinstance(x, (int, float)) else esc(x)


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters and an ellipsis, cut at a word boundary (never
    mid-word, unless one word fills more than half of it); whole when it fits."""
    text = str(text)
    if len(text) <= limit:
        return text
    head = text[:limit]
    if not text[limit].isspace():  # the cut falls inside a word: back to its start
        space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if space > limit // 2:
            head = head[:space]
    return head.rstrip(" ,;:\n\t") + "…"



ALLOWED_TAGS = {"a", "abbr", "acronym", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl",
                "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
                "s", "samp", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
                "thead", "tr", "u", "ul"}


def _allowed_attr(tag, name, value):
    if name == "class":
        return "bpg" not in value  # the student cannot dress up as the grader's feedback
    if tag == "a" and name == "href":
        return value.startswith(("http://", "https://", "mailto:", "#"))
    if tag == "a" and name == "title":
        return True
    if tag == "img" and name == "src":
        return value.startswith("data:image/") and not value.startswith("data:image/svg")
    if tag == "img" and name in ("alt", "width", "height"):
        return True
    if tag in ("td", "th") and name in ("colspan", "rowspan", "align"):
        return True
    return False


def clean_html(text: str | bytes) -> str:
    """Sanitize student HTML: formatting tags only, no scripts, styles, or remote resources."""
    import bleach
    text = text.decode() if isinstance(text, bytes) else str(text)
    return bleach.clean(text, tags=ALLOWED_TAGS, attributes=_allowed_attr,
                        protocols=["http", "https", "mailto", "data"], strip=True, strip_comments=True)


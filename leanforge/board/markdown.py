"""The small markdown subset the playbook page renders: headings, lists, code fences, paragraphs.

Not a general markdown engine: just enough for ``.forge/PLAYBOOK.md``, which agents write. Every
piece of text is escaped before the few tags are added (only `code` and **bold** inline), so
nothing in the playbook can inject markup, script or styles into the page.
"""

from __future__ import annotations

import re

from leanforge.board.layout import _e


def markdown(text: str) -> str:
    """Headings, bullet and numbered lists, code fences and paragraphs; everything escaped."""
    out: list[str] = []
    paragraph: list[str] = []
    lists: list[str] = []
    fence: list[str] | None = None

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        while lists:
            out.append(f"</{lists.pop()}>")

    for line in text.splitlines():
        if fence is not None:
            if line.strip().startswith("```"):
                out.append(f"<pre><code>{_e(chr(10).join(fence))}</code></pre>")
                fence = None
            else:
                fence.append(line)
            continue
        stripped = line.strip()
        heading = re.match(r"(#{1,6})\s+(.*)", stripped)
        item = re.match(r"([-*+]|\d+[.)])\s+(.*)", stripped)
        if stripped.startswith("```"):
            flush()
            fence = []
        elif heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item:
            if paragraph:
                out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
                paragraph.clear()
            kind = "ul" if item.group(1) in "-*+" else "ol"
            if lists and lists[-1] != kind:
                out.append(f"</{lists.pop()}>")
            if not lists:
                out.append(f"<{kind}>")
                lists.append(kind)
            out.append(f"<li>{_inline(item.group(2))}</li>")
        elif not stripped:
            flush()
        elif lists and line[:1].isspace():
            out[-1] = out[-1][: -len("</li>")] + f" {_inline(stripped)}</li>"
        else:
            while lists:
                out.append(f"</{lists.pop()}>")
            paragraph.append(stripped)
    if fence is not None:
        out.append(f"<pre><code>{_e(chr(10).join(fence))}</code></pre>")
    flush()
    return "".join(out)


def _inline(text: str) -> str:
    """Escaped text with `code` and **bold** spans."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if len(part) > 1 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{_e(part[1:-1])}</code>")
        else:
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", _e(part)))
    return "".join(out)

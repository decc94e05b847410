"""Clean issue text before a model reads it: drop what the rendered issue does not show.

An issue has two readers. A maintainer sees GitHub's rendering; the spec-writer model reads the
raw Markdown. Whatever the rendering hides is a place to leave instructions for the model that
no human has seen (prompt injection), so `sanitize` removes it:

- HTML comments (also `<!-->` and an unterminated `<!--`, which runs to the end), declarations,
  processing instructions and CDATA sections: the renderer drops them;
- invisible characters: every format character (Unicode category Cf: zero-width spaces and
  joiners, the byte-order mark, soft hyphens, bidi controls, tag characters), variation
  selectors, control characters other than tab and newline, lone surrogates and Hangul fillers,
  and the HTML entities that spell them (`&#8203;`, `&zwj;`);
- hidden HTML: an element with a `hidden` attribute or an inline style that hides it
  (`display:none`, `visibility:hidden`, a zero `font-size` or `opacity`) goes with its content,
  as do `<script>`, `<style>`, `<template>` and `<noscript>`. Every other tag is stripped and its
  text kept (a `<details>` block's text shows once expanded); attributes such as `title` and
  `alt` go with their tags;
- link reference definitions (`[//]: # (note)`, `[comment]: <> (note)`, `[x]: #`): they never
  render, which makes them the usual Markdown "comment"; footnotes (`[^1]: ...`) render and stay;
- link titles, shown only on hover; an image becomes `[image: alt]` with its alt text cut to
  80 characters, since the alt text is not shown while the image loads (link and alt texts
  longer than 1000 characters are not recognised, which keeps every pattern near linear time).

Then newlines become `\\n`, trailing spaces go, runs of three or more blank lines shrink to two,
and the text is NFKC-normalized so full-width and compatibility forms read as what they look
like. Removing one thing can complete another (`<!<b></b>-- x -->`), so the passes repeat until
nothing changes: `sanitize` is idempotent (up to 100 passes, which only text nested that deep on
purpose needs) and never raises.

Tags are recognised by CommonMark's raw-HTML grammar in ordinary text, where GitHub shows
anything else literally, and by a browser's looser grammar in lines that start an HTML block,
where GitHub hands the HTML to a browser-grade parser. When unsure, more is removed: losing a
visible word is cheap, keeping a hidden instruction is not. The bare names Python prints in
tracebacks and reprs (`<module>`, `<lambda>`, `<stdin>`) are kept: a fixed, harmless vocabulary.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

MAX_ALT = 80
_MAX_PASSES = 100

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_ENTITY = re.compile(r"&(?:#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,7}|[A-Za-z][A-Za-z0-9]{1,31});")
_INVISIBLE_RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x180B, 0x180F),  # Mongolian variation selectors
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xE0000, 0xE007F),  # tag characters, including the unassigned ones
    (0xE0100, 0xE01EF),  # variation selectors supplement
)

# Openers of markup the renderer drops, and what closes each: comments (`<!-->` too),
# CDATA, declarations, processing instructions. An unterminated comment runs to the end.
_RAW_OPENER = re.compile(r"<!--(?:-?>)?|<!\[CDATA\[|<![A-Za-z]|<\?")
_RAW_CLOSERS = {"<!--": "-->", "<![CDATA[": "]]>", "<?": "?>"}
# CommonMark raw HTML (a superset: closing tags may carry attributes, names may be Unicode).
_STRICT_TAG = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)"
    r"((?:\s+[A-Za-z_:][\w.:-]*(?:\s*=\s*(?:[^\s\"'=<>`]+|'[^']*'|\"[^\"]*\"))?)*)\s*/?>"
)
# A browser's tokenizer: anything up to the next `>` outside a quoted attribute value; a tag
# (or quoted value) left open runs to the end of the block.
_LOOSE_TAG = re.compile(
    r"<(/?)([A-Za-z][^\s/>]*)"
    r"((?>=\s*\"[^\"]*(?:\"|\Z)|=\s*'[^']*(?:'|\Z)|[^>])*+)(?:>|\Z)"
)
# What a browser reads as a "bogus comment" and hides: `</ x>`, `<!x`, `<?x`, up to the next `>`.
_LOOSE_BOGUS = re.compile(r"</(?:[^A-Za-z>][^>]*)?>|<[!?][^>]*(?:>|\Z)")
_BLOCK_START = re.compile(r"^(?:[ \t>]|[*+-][ \t]|\d{1,9}[.)][ \t])*<([A-Za-z/!?][A-Za-z]*)", re.M)
_BLANK_LINE = re.compile(r"\n[ \t>]*(?=\n|\Z)")
_ATTR = re.compile(r"""([^\s"'=<>/`]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")

_HIDING_ELEMENTS = frozenset({"script", "style", "template", "noscript"})
_RAW_BLOCKS = frozenset({"script", "style", "pre", "textarea"})
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_BLOCK_TAGS = frozenset(
    {"br", "hr", "p", "div", "li", "tr", "ul", "ol", "table", "pre", "blockquote", "details"}
    | {"summary", "h1", "h2", "h3", "h4", "h5", "h6"}
)
_PYTHON_NAMES = frozenset(
    {"module", "lambda", "stdin", "stdout", "stderr", "string", "genexpr", "listcomp"}
    | {"dictcomp", "setcomp", "unknown", "locals"}
)

_LINK_DEF = re.compile(
    r"^(?:[ \t>]|[*+-][ \t]|\d{1,9}[.)][ \t])*"
    r"\[(?!\^)(?:[^\[\]\\]|\\.)+\]:[ \t]*\n?[ \t]*(?:<[^<>\n]*>|\S+)"
    r"(?:[ \t]*\n?[ \t]*(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?[ \t]*(?:\n|\Z)",
    re.M | re.S,
)
_TEXT = r"(?:[^\[\]\\]|\\.|\[(?:[^\[\]\\]|\\.){0,1000}\]){0,1000}"
_DEST = r"(?:<[^<>\n]*>|(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*)"
_TITLE = r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\((?:[^()\\]|\\.)*\))"""
_IMAGE = re.compile(rf"!\[({_TEXT})\](?:\(\s*{_DEST}(?:\s+{_TITLE})?\s*\)|\[[^\[\]]*\])", re.S)
_LINK_TITLE = re.compile(rf"(?<!!)(\[{_TEXT}\]\(\s*{_DEST})\s+{_TITLE}\s*\)", re.S)

_TRAILING_SPACE = re.compile(r"[ \t]+$", re.M)
_MANY_BLANK_LINES = re.compile(r"\n{4,}")


def sanitize(text: str) -> str:
    """Remove what a reader of the rendered issue cannot see; see the module docstring."""
    for _ in range(_MAX_PASSES):
        cleaned = _one_pass(text)
        if cleaned == text:
            break
        text = cleaned
    return text


def _one_pass(text: str) -> str:
    text = _NEWLINES.sub("\n", text)
    text = _ENTITY.sub(_drop_invisible_entity, text)
    text = "".join(ch for ch in text if not _invisible(ch))
    text = _remove_raw_hidden(text)
    text = _strip_html(text)
    text = _LINK_DEF.sub("", text)
    text = _IMAGE.sub(_image_placeholder, text)
    text = _LINK_TITLE.sub(r"\1)", text)
    text = _TRAILING_SPACE.sub("", text)
    text = _MANY_BLANK_LINES.sub("\n\n\n", text).strip("\n")
    return unicodedata.normalize("NFKC", text)


def _remove_raw_hidden(text: str) -> str:
    out: list[str] = []
    pos = 0
    exhausted: set[str] = set()  # closers absent from the rest of the text
    while opener := _RAW_OPENER.search(text, pos):
        kind = opener.group()
        if kind.startswith("<!--") and kind != "<!--":  # `<!-->` and `<!--->` are empty comments
            out.append(text[pos : opener.start()])
            pos = opener.end()
            continue
        closer = _RAW_CLOSERS.get(kind, ">")
        close = -1 if closer in exhausted else text.find(closer, opener.end())
        if close == -1 and kind == "<!--":
            out.append(text[pos : opener.start()])
            return "".join(out)
        if close == -1:
            exhausted.add(closer)
            out.append(text[pos : opener.end()])
            pos = opener.end()
            continue
        out.append(text[pos : opener.start()])
        pos = close + len(closer)
    out.append(text[pos:])
    return "".join(out)


def _invisible(ch: str) -> bool:
    if ch in "\t\n" or " " <= ch <= "~":
        return False
    if unicodedata.category(ch) in ("Cf", "Cc", "Cs"):
        return True
    code = ord(ch)
    return any(low <= code <= high for low, high in _INVISIBLE_RANGES)


def _drop_invisible_entity(match: re.Match[str]) -> str:
    decoded = html.unescape(match.group())
    if decoded != match.group() and all(_invisible(ch) for ch in decoded):
        return ""
    return match.group()


def _image_placeholder(match: re.Match[str]) -> str:
    alt = " ".join(match.group(1).split())[:MAX_ALT].rstrip()
    return f"[image: {alt}]" if alt else "[image]"


@dataclass(frozen=True)
class _Tag:
    start: int
    end: int
    closing: bool
    name: str
    attrs: str
    loose: bool


def _strip_html(text: str) -> str:
    """Drop hidden elements with their content, then every other tag, keeping its text."""
    tags = _find_tags(text)
    if not tags:
        return text
    out: list[str] = []
    pos = 0
    i = 0
    while i < len(tags):
        tag = tags[i]
        out.append(text[pos : tag.start])
        pos = tag.end
        i += 1
        if tag.name == "" or (tag.closing or not _hides(tag)):
            out.append(_replacement(tag, text))
        elif tag.name not in _VOID:
            i, pos = _skip_element(tags, i, tag.name, len(text))
    out.append(text[pos:])
    return "".join(out)


def _skip_element(tags: list[_Tag], i: int, name: str, length: int) -> tuple[int, int]:
    """Index and text position just past the tag that closes an element opened before ``i``."""
    depth = 1
    while i < len(tags):
        tag = tags[i]
        i += 1
        if tag.name == name:
            depth += -1 if tag.closing else 1
            if depth == 0:
                return i, tag.end
    return i, length  # never closed: a browser hides everything after it


def _replacement(tag: _Tag, text: str) -> str:
    if tag.name in _BLOCK_TAGS:
        return "\n"
    bare = not tag.closing and not tag.loose and not tag.attrs.strip()
    if bare and tag.name in _PYTHON_NAMES:
        return text[tag.start : tag.end]
    return ""


def _hides(tag: _Tag) -> bool:
    if tag.name in _HIDING_ELEMENTS:
        return True
    for match in _ATTR.finditer(tag.attrs):
        name = match.group(1).lower()
        value = html.unescape((match.group(2) or "").strip("\"'"))
        if name == "hidden" or (name == "style" and _hiding_style(value)):
            return True
    return False


def _hiding_style(css: str) -> bool:
    css = re.sub(r"\s+", "", re.sub(r"/\*.*?(?:\*/|\Z)", "", css.lower(), flags=re.S))
    for declaration in css.split(";"):
        prop, _, value = declaration.partition(":")
        value = value.removesuffix("!important")
        if (prop, value) in {
            ("display", "none"),
            ("visibility", "hidden"),
            ("color", "transparent"),
        }:
            return True
        if prop == "visibility" and value == "collapse":
            return True
        if prop in ("font-size", "opacity") and _is_zero(value):
            return True
    return False


def _is_zero(value: str) -> bool:
    match = re.fullmatch(r"[+-]?(\d*\.?\d+)([a-z%]*)", value)
    return match is not None and float(match.group(1)) == 0


def _find_tags(text: str) -> list[_Tag]:
    """Every tag in ``text``, in order; the looser grammar inside HTML blocks."""
    tags: list[_Tag] = []
    pos = 0
    for start, end in _html_blocks(text):
        tags += _scan(_STRICT_TAG, text, pos, start, loose=False)
        tags += _scan(_LOOSE_TAG, text, start, end, loose=True)
        tags += [
            _Tag(m.start(), m.end(), True, "", "", True)
            for m in _LOOSE_BOGUS.finditer(text, start, end)
        ]
        pos = end
    tags += _scan(_STRICT_TAG, text, pos, len(text), loose=False)
    tags.sort(key=lambda tag: tag.start)
    kept: list[_Tag] = []
    for tag in tags:  # a bogus comment may swallow a tag found after it
        if not kept or tag.start >= kept[-1].end:
            kept.append(tag)
    return kept


def _scan(pattern: re.Pattern[str], text: str, start: int, end: int, *, loose: bool) -> list[_Tag]:
    return [
        _Tag(m.start(), m.end(), bool(m.group(1)), m.group(2).lower(), m.group(3), loose)
        for m in pattern.finditer(text, start, end)
    ]


def _html_blocks(text: str) -> list[tuple[int, int]]:
    """Spans of lines GitHub treats as raw HTML: from a line starting with a tag to a blank line."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while match := _BLOCK_START.search(text, pos):
        name = match.group(1).lower()
        closer = re.compile(rf"</{name}\s*>", re.I) if name in _RAW_BLOCKS else _BLANK_LINE
        found = closer.search(text, match.end())
        end = found.end() if found and closer is not _BLANK_LINE else len(text)
        if found and closer is _BLANK_LINE:
            end = found.start()
        spans.append((match.start(), end))
        pos = max(end, match.end())
    return spans

"""Text from mail: charsets, RFC 2047 encoded words, control characters, HTML and quoted history.

Everything here takes what a sender wrote (headers, bodies) and returns plain ``str`` that is
safe to show and to reuse: a subject or a name comes back on one line with no control
characters at all, so putting it into a header of our own mail cannot add a header.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from html.parser import HTMLParser
from typing import List, Optional, Tuple

try:  # installed with requests (requirements.lock); only used to guess a wrongly labelled charset
    from charset_normalizer import from_bytes as _guess_charset
except ImportError:  # pragma: no cover
    _guess_charset = None

# Labels mapped to the codec that decodes them best. GB2312 and GBK mail routinely carries
# characters outside its label (names, traditional forms), so every GB label is read as GB18030,
# their superset (as the WHATWG Encoding Standard does for gb2312/gbk); Big5 as Big5-HKSCS
# (superset), then cp950 (Microsoft's variant); Latin-1 as windows-1252; ASCII as UTF-8.
_CHARSET_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
    "ms936": "gb18030", "windows-936": "gb18030", "euc-cn": "gb18030", "x-euc-cn": "gb18030",
    "csgb2312": "gb18030", "gb_2312-80": "gb18030", "chinese": "gb18030", "gb18030": "gb18030",
    "big5": "big5hkscs", "big-5": "big5hkscs", "x-big5": "big5hkscs", "cn-big5": "big5hkscs",
    "csbig5": "big5hkscs", "big5-hkscs": "big5hkscs",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "utf-8",
    "ascii": "utf-8", "utf8": "utf-8",
}
_SECOND_CHOICE = {"big5hkscs": "cp950"}
_UNKNOWN = {"", "unknown-8bit", "x-unknown", "unknown", "8bit", "default"}


def _codec(label: Optional[str]) -> Optional[str]:
    """The codec for a charset label, or ``None`` when the label is missing or unknown."""
    label = (label or "").strip().strip('"').lower()
    if label in _UNKNOWN:
        return None
    label = _CHARSET_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except (LookupError, UnicodeError, ValueError):  # unknown, or not even ASCII
        return None


GUESS_MIN_BYTES = 64  # shorter texts are too short for a statistical guess


def decode_bytes(data: bytes, charset: Optional[str] = None) -> str:
    """``data`` as text, never raising. Valid UTF-8 is read as UTF-8 whatever the label says
    (UTF-8 sent under a GB2312 or Latin-1 label is a common mistake, while real GBK or Big5 text
    is practically never valid UTF-8); otherwise the labelled charset when it decodes cleanly;
    otherwise (a wrong or missing label) a statistical guess for texts long enough to guess,
    then GB18030 and Big5-HKSCS (this firm's mail is mostly Chinese), and at last the label
    (or UTF-8) with undecodable bytes replaced."""
    codec = _codec(charset)
    candidates: List[Optional[str]] = [] if codec and codec.startswith(("utf-16", "utf-32")) else ["utf-8"]
    candidates += [codec, _SECOND_CHOICE.get(codec or "")]
    if _guess_charset is not None and len(data) >= GUESS_MIN_BYTES:
        best = _guess_charset(data).best()
        candidates.append(_codec(best.encoding) if best is not None else None)
    candidates += ["gb18030", "big5hkscs"]
    for candidate in dict.fromkeys(c for c in candidates if c):
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            pass
    return data.decode(codec or "utf-8", errors="replace")


# --- control characters -------------------------------------------------------------------

_LINE_BREAKING = {"\r", "\n", "\t", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"}


def clean_line(text: str, max_length: Optional[int] = None) -> str:
    """``text`` on one line, fit to reuse in a header: CR, LF, tabs and Unicode line/paragraph
    separators become spaces; every other control (Cc), format (Cf, e.g. bidi overrides, zero
    width), surrogate or private-use character is removed; runs of spaces become one."""
    out = []
    for ch in text:
        if ch in _LINE_BREAKING:
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            continue
        else:
            out.append(ch)
    line = re.sub(r"\s+", " ", "".join(out)).strip()
    if max_length is not None and len(line) > max_length:
        line = line[: max_length - 1].rstrip() + "…"
    return line


def clean_body(text: str) -> str:
    """A body as ``\\n``-separated lines: line endings normalised, tabs kept, every other control
    or format character removed, trailing spaces and surplus blank lines dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    kept = "".join(
        ch for ch in text
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    lines = [line.rstrip() for line in kept.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


# --- RFC 2047 encoded words ---------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([A-Za-z0-9!#$%&'*+^_`{|}~.-]+)\?([bBqQ])\?([^?\s]*)\?=")


def _word_bytes(encoding: str, payload: str) -> Optional[bytes]:
    try:
        if encoding in "bB":
            payload = payload.rstrip("=")
            return base64.b64decode(payload + "=" * (-len(payload) % 4))
        return binascii.a2b_qp(payload.encode("ascii"), header=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def _raw_text(text: str) -> str:
    """Header text outside encoded words; 8-bit bytes the parser kept as surrogates (mail sent
    without RFC 2047, common from Chinese mailers) are read as UTF-8, else GB18030."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return decode_bytes(text.encode("utf-8", "surrogateescape"))


def decode_header_text(value: str) -> str:
    """A raw header value decoded (not yet cleaned): unfolded, encoded words of any charset
    decoded; whitespace between adjacent encoded words dropped (RFC 2047 §6.2), and adjacent
    words in the same charset joined before decoding, since sloppy encoders split a multibyte
    character across two words. A malformed word is kept as written."""
    value = re.sub(r"\r?\n(?=[ \t])", "", value)
    pieces: List[Tuple[Optional[str], object]] = []  # (charset, bytes) or (None, text)
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position:match.start()]
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            pieces.append((None, between + match.group(0)))
            position = match.end()
            continue
        previous_is_word = bool(pieces) and pieces[-1][0] is not None
        if between and not (previous_is_word and not between.strip()):
            pieces.append((None, between))
        charset = match.group(1).split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
        if pieces and pieces[-1][0] is not None and (_codec(pieces[-1][0]) == _codec(charset)):
            pieces[-1] = (pieces[-1][0], pieces[-1][1] + data)
        else:
            pieces.append((charset, data))
        position = match.end()
    pieces.append((None, value[position:]))
    return "".join(
        _raw_text(part) if charset is None else decode_bytes(part, charset)
        for charset, part in pieces
    )


def header_line(value: Optional[str], max_length: Optional[int] = None) -> str:
    """A raw header value decoded and cleaned to one safe line (``""`` for none)."""
    return clean_line(decode_header_text(value), max_length) if value else ""


# --- HTML ---------------------------------------------------------------------------------

_SKIPPED = {"script", "style", "template", "title", "head", "svg", "math", "object", "iframe", "noembed"}
# Blocks are paragraphs (a blank line around them); these only start a new line.
_BLOCK = {
    "p", "div", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
    "hr", "section", "article", "header", "footer", "address", "dl", "form", "fieldset", "center",
    "body",
}
_LINE = {"br", "li", "tr", "dt", "dd"}
_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities unescaped by the parser
        self.parts: List[str] = []
        self.skip: List[str] = []  # open elements whose content is not shown
        self.links: List[Tuple[Optional[str], int]] = []  # open <a>: target, where its text starts

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        style = re.sub(r"\s", "", (attributes.get("style") or "").lower())
        if tag == "body":
            self.skip = [t for t in self.skip if t != "head"]  # a <head> left open
        if tag in _SKIPPED or (tag not in _VOID and ("display:none" in style or "hidden" in attributes)):
            if tag not in _VOID:
                self.skip.append(tag)
            return
        if self.skip:
            return
        if tag in _BLOCK:
            self.parts.append("\n\n")
        elif tag in _LINE:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "img" and attributes.get("alt"):
            self.parts.append(f"[{attributes['alt']}]")
        elif tag == "a":
            href = (attributes.get("href") or "").strip()
            self.links.append((href if re.match(r"(?i)(https?:|mailto:)", href) else None, len(self.parts)))

    def handle_endtag(self, tag):
        if self.skip:
            if tag in self.skip:
                while self.skip and self.skip.pop() != tag:
                    pass
            return
        if tag == "a" and self.links:
            href, start = self.links.pop()
            shown = "".join(self.parts[start:]).strip()
            if href and href.removeprefix("mailto:") not in shown:
                self.parts.append(f" <{href}>")  # agents see where a link really goes
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body for agents: scripts, styles, the head and hidden
    elements dropped, entities unescaped, blocks and line breaks as new lines, list items as
    ``- ``, a link's http(s)/mailto target after its text. The result is text, never markup:
    shown with ``textContent`` it cannot run."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return clean_body("\n".join(lines))


# --- quoted reply history -----------------------------------------------------------------

_REPLY_MARKERS = [
    re.compile(r"^On\b.{0,300}\bwrote:$", re.I),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^在.{0,300}(写道|寫道)[:：]?$"),  # the same, in Chinese
    re.compile(r"^-{2,}\s*(Original Message|原始邮件|原始郵件|回复的原邮件)\s*-{2,}$", re.I),  # Outlook, QQ, Foxmail
]
_HEADER_BLOCK_START = re.compile(r"^\*?(From|发件人|寄件者)\*?\s*[:：]", re.I)
_HEADER_BLOCK_NEXT = re.compile(r"^\*?(Sent|Date|To|Subject|发送时间|时间|日期|收件人|主题|寄件日期|主旨)\*?\s*[:：]", re.I)


def trim_quoted(text: str) -> str:
    """The new part of a reply, for the ticket: the text before the first reply marker ("On … wrote:",
    "在 … 写道：", "-----Original Message-----", "-----原始邮件-----", or an Outlook header block
    "From:/发件人:" followed by "Sent:/发送时间:" lines), with a trailing block of ``>`` quoted lines
    removed. Interleaved quotes are kept. If nothing would be left, the whole text is kept: the
    full body is stored anyway; this is only what a ticket shows first."""
    lines = text.split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        joined = (stripped + " " + lines[i + 1].strip()) if i + 1 < len(lines) else stripped
        if any(marker.match(stripped) or marker.match(joined) for marker in _REPLY_MARKERS):
            cut = i
            break
        if _HEADER_BLOCK_START.match(stripped) and any(
            _HEADER_BLOCK_NEXT.match(following.strip()) for following in lines[i + 1:i + 4]
        ):
            cut = i
            break
    kept = lines[:cut]
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")
                    or re.fullmatch(r"\s*[_\-=*]{5,}\s*", kept[-1])):
        kept.pop()
    trimmed = "\n".join(kept).strip("\n")
    return trimmed if trimmed.strip() else text

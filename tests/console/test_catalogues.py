"""The staff pages' message catalogues (bot/console/locales/, docs/console.md "Languages"):
both languages have the same keys and placeholders, every key the pages use exists, and no
visible text is written into the pages or their scripts outside the catalogues; the catalogues
are served with an ETag, and read from Python (the dashboard's CSV headers)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from bot.console import i18n
from bot.console.pages import CONSOLE_STATIC

PAGES = ("console.html", "quality.html")
SCRIPTS = ("console.js", "quality.js")
CATALOGUES = {language: json.loads(i18n.raw(language)) for language in ("zh", "en")}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Codes the pages name through the catalogue with a computed key (t('sender.' + who) …)
DYNAMIC = {
    "sender": ("customer", "bot", "agent", "system"),
    "canned.mark": ("zh", "en"),
    "reason": ("customer_request", "misunderstood", "urgent", "fraud", "private_advisor", "email"),
    "tier": ("private", "premier", "standard"),
    "language": ("zh", "en"),
    "queue": ("general", "private"),
    "category": ("product_service", "fees", "contract_legal", "other"),
    "q.review.col": ("when", "channel", "wrote", "read", "why", "meant"),
    "q.col.satisfaction_distribution": ("rating", "count"),
    "q.col.satisfaction_comments": ("rated_at", "rating", "channel", "language", "trigger", "comment"),
    "q.col.top_misunderstood": ("text", "count", "last_intent", "last_confidence"),
    "q.col.handoffs_by_reason": ("reason", "count"),
    "q.col.complaint_deadlines": ("deadline", "met", "missed", "pending", "rate"),
}
# Attributes a person reads or hears (a screen reader reads aria-label and title).
SEEN_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt", "value")
# Strings that look like words but are never shown: key names, browser APIs, HTTP headers.
NOT_SHOWN = {"use strict", "Enter", "Notification", "WebSocket", "AudioContext", "Accept", "Content-Type", "X-CSRF-Token",
             "Retry-After", "GET", "POST", "PUT", "Asia/Shanghai"}


def words(text: str) -> bool:
    """Whether ``text`` has something to read: a letter of any script (not only digits, symbols,
    punctuation and the "—" of a missing value)."""
    return any(ch.isalpha() for ch in text)


class VisibleText(HTMLParser):
    """The texts of a page a person would see, but those the catalogue fills: text nodes outside
    elements with data-i18n (and outside translate="no", the logo), and the seen attributes
    without a data-i18n-<attribute>."""

    def __init__(self):
        super().__init__()
        self.stack: List[Tuple[str, bool]] = []
        self.found: List[str] = []
        self.keys: List[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attributes.items():
            if name.startswith("data-i18n"):
                self.keys.append(value)
            if name in SEEN_ATTRIBUTES and value and words(value) and f"data-i18n-{name}" not in attributes \
                    and not (tag == "option" and name == "value") and not (tag == "input" and name == "value"):
                self.found.append(f"<{tag} {name}={value!r}>")
        filled = "data-i18n" in attributes or attributes.get("translate") == "no" or tag in ("script", "style")
        if tag not in ("meta", "link", "input", "br", "img"):
            self.stack.append((tag, filled))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if data.strip() and words(data) and not any(filled for _, filled in self.stack):
            self.found.append(data.strip())


def page_texts(html: str) -> VisibleText:
    parser = VisibleText()
    parser.feed(html)
    return parser


# A JavaScript string literal ('…' or "…"), and comments to leave out (this code has no regex
# literal with a quote in it, nor template literals).
_TOKEN = re.compile(r"//[^\n]*|/\*.*?\*/|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"", re.S)
# A string that reads as text: two words, or a capitalised word, or any CJK character.
_SENTENCE = re.compile(r"(?<![\w#.-])[A-Za-z]{2,}[,.:;!?…]*\s+[A-Za-z]+(?![\w-])|^\s*[A-Z][a-z]+\b|[\u3000-\u9fff\uff00-\uffef]")


def literals(script: str) -> Iterator[str]:
    for token in _TOKEN.finditer(script):
        text = token.group(0)
        if text[0] in "'\"":
            yield text[1:-1]


def stray_strings(script: str) -> List[str]:
    """String literals of ``script`` that read as text a person sees: the pages write none, they
    use t('key') (a key is lowercase and dotted, so never matches)."""
    return [text for text in literals(script) if _SENTENCE.search(text) and text not in NOT_SHOWN]


def used_keys(script: str) -> List[str]:
    """String literals shaped like catalogue keys whose first part is one of the catalogues'."""
    groups = {key.split(".")[0] for key in CATALOGUES["en"]}
    return [text for text in literals(script)
            if re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+", text) and text.split(".")[0] in groups]


def test_both_catalogues_have_the_same_keys_and_placeholders():
    zh, en = CATALOGUES["zh"], CATALOGUES["en"]
    assert sorted(set(zh) ^ set(en)) == []
    for key in en:
        assert set(PLACEHOLDER.findall(zh[key])) == set(PLACEHOLDER.findall(en[key])), key
        assert zh[key].strip() and en[key].strip(), key
    assert zh["queue.title"] != en["queue.title"]


@pytest.mark.parametrize("name", PAGES + SCRIPTS)
def test_every_key_the_pages_use_is_in_the_catalogues(name):
    source = (CONSOLE_STATIC / name).read_text(encoding="utf-8")
    keys = page_texts(source).keys if name.endswith(".html") else used_keys(source)
    assert keys, "the page uses the catalogue"
    catalogue = CATALOGUES["en"]
    # a group (I18n.label('q.trigger', code), plural(n, 'q.n.ratings')) is the start of its keys
    unknown = [key for key in keys if key not in catalogue and not any(k.startswith(key + ".") for k in catalogue)]
    assert sorted(set(unknown)) == []


def test_the_codes_named_through_computed_keys_are_in_the_catalogues():
    for group, codes in DYNAMIC.items():
        for code in codes:
            assert f"{group}.{code}" in CATALOGUES["en"], f"{group}.{code}"


@pytest.mark.parametrize("name", PAGES)
def test_no_visible_text_is_written_into_the_pages(name):
    assert page_texts((CONSOLE_STATIC / name).read_text(encoding="utf-8")).found == []


@pytest.mark.parametrize("name", SCRIPTS)
def test_no_visible_text_is_written_into_the_scripts(name):
    assert stray_strings((CONSOLE_STATIC / name).read_text(encoding="utf-8")) == []


def test_the_guards_find_a_stray_string():
    """The checks above fail on what they must catch (the old English pages, for one)."""
    assert page_texts('<p data-i18n="queue.title"></p><button>Log out</button>').found == ["Log out"]
    assert page_texts('<input placeholder="e.g. demo">').found == ["<input placeholder='e.g. demo'>"]
    assert page_texts('<b data-i18n-title="side.you" title="x">—</b><span translate="no">长青</span>').found == []
    assert stray_strings("el.flash.textContent = 'Note added.';") == ["Note added."]
    assert stray_strings("h('button', { text: 'Claim' }); flash(t('reply.empty'));") == ["Claim"]
    assert stray_strings("x = '请稍等'; // 'Comment text' is fine") == ["请稍等"]
    assert stray_strings("h('span', { class: 'c-btn c-btn--primary', 'data-id': 'q-kpi' }, [' · '])") == []


def test_python_reads_the_same_catalogues():
    assert i18n.text("q.col.complaint_deadlines.rate", "en") == "Met rate"
    assert i18n.text("q.col.complaint_deadlines.rate", "zh") == "按时率"
    assert i18n.text("flash.transferred_agent", "en", agent="demo-agent") == "Transferred to demo-agent."
    assert i18n.text("queue.title", "fr") == CATALOGUES["zh"]["queue.title"]  # Simplified Chinese by default
    assert i18n.label("q.col.new_table", "some_column", "zh") == "some_column"
    with pytest.raises(KeyError):
        i18n.text("no.such.key", "en")

"""Compliance of what the assistant can say (spec 7.3): it never asks for a password, a code or
a card number and never promises returns. Checks every customer-facing text in the knowledge
files with the rules agents' replies are checked with (bot/compliance.py)."""

import pytest

from bot import compliance, knowledge


def customer_texts(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from customer_texts(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from customer_texts(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


ALL_TEXTS = [
    (f"{name}{path}", text)
    for name in ("messages", "faq", "products", "market", "branches", "complaints", "complaint_updates")
    for path, text in customer_texts(knowledge.load(name))
]


def test_there_are_texts_to_check():
    assert len(ALL_TEXTS) > 150


@pytest.mark.parametrize("rule", [compliance.asks_for_credentials, compliance.promises_returns], ids=lambda r: r.__name__)
def test_no_text_asks_for_secrets_or_promises_returns(rule):
    offending = [(where, text) for where, text in ALL_TEXTS if rule(text)]
    assert not offending


def test_the_rules_would_catch_an_offending_text():
    assert compliance.asks_for_credentials("为了核实身份，请您提供短信验证码")
    assert compliance.asks_for_credentials("Please tell me your password so I can check")
    assert compliance.promises_returns("This fund is risk-free")
    assert compliance.promises_returns("本产品保本保收益")
    assert compliance.promises_returns("It has a guaranteed return of 3%")
    assert not compliance.promises_returns("货币宝不保本，也不保证收益；it has no guaranteed return")


def test_the_disclosure_is_the_spec_wording():
    assert knowledge.risk_disclosure("zh") == "理财非存款，产品有风险，投资须谨慎。"
    assert knowledge.risk_disclosure("en") == (
        "Wealth management products are not deposits. Investing involves risk; "
        "past performance does not guarantee future results."
    )

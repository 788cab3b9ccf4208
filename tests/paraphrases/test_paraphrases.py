"""The paraphrase set (issue #15, item 8): questions worded as customers word them, answered by the
real trained model and the real actions over Rasa's REST channel, one new conversation each.

The set's rules are checked first (size, coverage, languages, nothing taken from the training
data or the held-out sets), then the judge itself (it must not be lenient), then the assistant:
at least 97% of the entries answered right.
"""

import re
from collections import Counter
from pathlib import Path

import opencc
import pytest
from rapidfuzz import fuzz, process
from rasa.shared.nlu.training_data.loading import load_data

from bot import knowledge
from bot.launcher import Assistant
from bot.language import detect_language
from tests.paraphrases.paraphrase_set import Paraphrase, Reply, contains_fact, judge, load, run
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
PASS_RATE = 0.97
# Normalised texts at least this similar (rapidfuzz ratio, 0–100) to a training or held-out
# sentence count as copied from it.
NEAR_COPY = 85
PARAPHRASES = load()
CODES = [p["code"] for p in knowledge.load("products")["products"]]
TOPICS = list(knowledge.load("faq"))


# ---------------------------------------------------------------------------- the set's rules


def test_the_set_is_large_enough_in_each_language():
    counts = Counter(p.lang for p in PARAPHRASES)
    assert len(PARAPHRASES) >= 300
    assert counts["zh"] >= 130 and counts["en"] >= 130 and counts["mixed"] >= 40, counts
    assert len({p.text for p in PARAPHRASES}) == len(PARAPHRASES), "a text is in the set twice"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_product_and_every_faq_topic_is_asked_about_in_each_language(lang):
    asked = [p for p in PARAPHRASES if p.lang == lang]
    per_product = Counter(p.product for p in asked if p.product)
    assert all(per_product[code] >= 10 for code in CODES), per_product
    assert {f"faq/{topic}" for topic in TOPICS} <= {p.intent for p in asked}
    assert any(p.candidates for p in asked), "no question where a type fits several products"
    for wording in ("type", "nickname", "typo", "multi"):
        assert any(p.how == wording for p in asked), f"no {wording} question in {lang}"


def test_chinese_entries_are_chinese_english_entries_english_and_mixed_ones_decidable():
    for p in PARAPHRASES:
        if p.lang in ("zh", "en"):
            assert detect_language(p.text) == p.lang, p.text
        else:
            assert re.search(r"[\u4e00-\u9fff]", p.text) and re.search(r"[A-Za-z]{2,}", p.text), p.text
            assert p.reply_language in ("zh", "en"), p.text


def test_entries_name_real_intents_products_and_checks():
    domain_intents = {"product_info", "product_list", "recommend_product", "market_update"}
    for p in PARAPHRASES:
        assert p.intent in domain_intents or p.intent in {f"faq/{t}" for t in TOPICS}, p.text
        assert not (p.product and p.candidates), p.text
        assert p.product in (None, *CODES), p.text
        assert len(p.candidates) in (0, 2, 3, 4, 5, 6) and set(p.candidates) <= set(CODES), p.text
        assert p.facts or p.candidates, f"{p.text}: nothing to check in the answer"
        for pattern in p.avoid:
            re.compile(pattern)


def _plain(text: str, converter=opencc.OpenCC("t2s")) -> str:
    return re.sub(r"[\W_]+", "", converter.convert(text)).casefold()


def test_no_paraphrase_is_copied_from_training_or_heldout_data():
    files = sorted((ROOT / "data" / "nlu").glob("*.yml")) + sorted((ROOT / "tests" / "nlu").glob("heldout_*.yml"))
    known = [ex.get("text") for path in files for ex in load_data(str(path)).intent_examples]
    plain_known = [_plain(text) for text in known]
    copies = []
    for p in PARAPHRASES:
        _, score, index = process.extractOne(_plain(p.text), plain_known, scorer=fuzz.ratio)
        if score >= NEAR_COPY:
            copies.append((p.text, known[index], round(score)))
    assert not copies, f"paraphrases (nearly) equal to training or held-out sentences: {copies}"


# ---------------------------------------------------------------------------- the judge


def _entry(**overrides) -> Paraphrase:
    fields = {"text": "稳盈债券起投多少", "lang": "zh", "intent": "product_info", "how": "half_name",
              "product": "EG-BD02", "facts": (("1,000 元",),)}
    return Paraphrase(**{**fields, **overrides})


DISCLOSURE_ZH = knowledge.risk_disclosure("zh")


def test_numbers_match_whole_numbers_only_whatever_their_separators():
    assert contains_fact("起购金额为 1000元。", "1,000 元")
    assert contains_fact("minimum 1 000 CNY", "1,000 CNY")
    assert not contains_fact("起购金额为 10,000 元", "1,000 元")
    assert not contains_fact("proceeds T+20", "T+2")
    assert not contains_fact("fee 10.5%", "0.5%")
    assert not contains_fact("NAV 1.08321", "1.0832")
    assert contains_fact("agents 09:00–21:00", "09:00-21:00")
    assert contains_fact("QUALIFIED INVESTORS only", "qualified investors")


def test_a_right_answer_passes():
    reply = Reply(f"长青稳盈债券A（EG-BD02）的起购金额为 1,000 元。\n{DISCLOSURE_ZH}")
    assert judge(_entry(), reply).passed


@pytest.mark.parametrize(
    "text, kind",
    [
        (f"长青稳盈债券A（EG-BD02）的起购金额为 10,000 元。\n{DISCLOSURE_ZH}", "missing fact"),
        ("长青稳盈债券A（EG-BD02）的起购金额为 1,000 元。", "no risk disclosure"),
        (f"长青美元收益（EG-FX06）的起购金额为 1,000 元。\n{DISCLOSURE_ZH}", "wrong product"),
        ("The minimum investment in Evergreen Steady Bond A (EG-BD02) is 1,000 元. "
         "Wealth management products are not deposits.", "wrong language"),
        ("请问您想了解哪一款产品？我们的产品有：长青货币宝、长青稳盈债券A、长青平衡配置、长青成长精选股票、"
         f"长青私享股权一期、长青美元收益。1,000 元\n{DISCLOSURE_ZH}", "product not understood"),
        ("", "no reply"),
    ],
)
def test_a_wrong_answer_fails_for_its_reason(text, kind):
    verdict = judge(_entry(), Reply(text))
    assert not verdict.passed and verdict.kind == kind, verdict.problems


def test_alternatives_and_forbidden_claims():
    entry = _entry(text="稳盈债券保本吗", facts=(("不保本", "不保证本金"),), avoid=("(?<![不非没])是保本",))
    assert judge(entry, Reply(f"长青稳盈债券A（EG-BD02）不保证本金。\n{DISCLOSURE_ZH}")).passed
    assert judge(entry, Reply(f"长青稳盈债券A（EG-BD02）是保本的。\n{DISCLOSURE_ZH}")).kind == "missing fact"
    said = judge(entry, Reply(f"长青稳盈债券A（EG-BD02）不保本，但可以说是保本的。\n{DISCLOSURE_ZH}"))
    assert said.kind == "says what it must not"


def test_a_type_that_fits_two_products_needs_a_question_with_exactly_their_buttons():
    entry = _entry(text="债券基金起投多少", product=None, candidates=("EG-BD02", "EG-FX06"), facts=())
    both = [{"title": "长青稳盈债券A", "payload": '/product_info{"product": "EG-BD02"}'},
            {"title": "长青美元收益", "payload": '/product_info{"product": "EG-FX06"}'}]
    assert judge(entry, Reply("请问您想了解哪一款债券基金？", both)).passed
    assert not judge(entry, Reply("请问您想了解哪一款债券基金？", both[:1])).passed
    extra = both + [{"title": "长青货币宝", "payload": '/product_info{"product": "EG-MM01"}'}]
    assert not judge(entry, Reply("请问您想了解哪一款债券基金？", extra)).passed
    assert not judge(entry, Reply(f"长青稳盈债券A（EG-BD02）的起购金额为 1,000 元。\n{DISCLOSURE_ZH}")).passed


# ---------------------------------------------------------------------------- the assistant


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    work = tmp_path_factory.mktemp("paraphrases")
    service = {"DATABASE_URL": f"sqlite:///{work / 'contact.db'}", "EVERGREEN_CLOCK": "2026-11-30T10:00:00+08:00"}
    with Assistant(ROOT / "models" / "current.tar.gz", free_port(), free_port(), work, service_env=service) as running:
        found = run(running.rasa_url)
    report = found.report()
    out = ROOT / "test-artifacts" / "paraphrases.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report + "\n", encoding="utf-8")
    print("\n" + report)
    return found


def test_every_paraphrase_gets_a_reply(summary):
    assert len(summary.verdicts) == len(PARAPHRASES)
    assert sum(v.kind == "no reply" for v in summary.verdicts) == 0


def test_at_least_97_percent_of_paraphrases_are_answered_right(summary):
    assert summary.rate() >= PASS_RATE, summary.report()


def test_the_benchmark_scores_faq_topics_and_exact_product_codes():
    from tests.benchmark.paraphrases import nlu_scores

    asked = [_entry(), _entry(text="债券基金起投多少", product=None, candidates=("EG-BD02", "EG-FX06"), facts=()),
             _entry(text="稳盈债券怎么赎回", intent="faq/redemption")]
    parses = [
        {"intent": {"name": "product_info"}, "entities": [{"entity": "product", "value": "EG-BD02"}]},
        {"intent": {"name": "product_info"}, "entities": []},
        {"intent": {"name": "faq"}, "response_selector": {"faq": {"response": {"intent_response_key": "faq/purchase"}}},
         "entities": [{"entity": "product", "value": "EG-BD02"}, {"entity": "product", "value": "EG-FX06"}]},
    ]
    overall = nlu_scores(asked, parses)["overall"]
    assert overall["intent_accuracy"] == pytest.approx(2 / 3)  # the wrong FAQ topic counts as wrong
    assert overall["with_product"] == 2 and overall["product_accuracy"] == 0.5  # two products named ≠ one

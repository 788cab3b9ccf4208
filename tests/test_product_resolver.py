"""The product resolver on the ways customers name products (issue #15, item 1)."""

import pytest

from bot.normalize import simplified
from bot.product_resolver import resolve
from bot.products import asked_attributes


BOND_FUNDS = ("EG-BD02", "EG-FX06")


@pytest.mark.parametrize(
    "text,code",
    [
        # types and categories, both languages
        ("货币基金能马上取出来吗", "EG-MM01"),
        ("现金管理类的产品赎回快吗", "EG-MM01"),
        ("what about the money market fund", "EG-MM01"),
        ("股票型的", "EG-EQ04"),
        ("the equity fund's fees", "EG-EQ04"),
        ("私募那个", "EG-PE05"),
        ("股权基金起投多少", "EG-PE05"),
        ("Can I buy the private equity fund?", "EG-PE05"),
        ("the USD fund", "EG-FX06"),
        ("QDII的那个净值多少", "EG-FX06"),
        ("美元债券基金赎回几天", "EG-FX06"),  # two kinds: only USD Income is both
        ("混合型的锁定期", "EG-BL03"),
        ("balanced fund lock up", "EG-BL03"),
        ("Evergreen Balanced fees", "EG-BL03"),
        # partial, reordered and misspelt English names
        ("Evergreen Balanced", "EG-BL03"),
        ("bond steady redemption", "EG-BD02"),
        ("Evergren Cash Plus fees", "EG-MM01"),
        ("Stedy Bond minimum", "EG-BD02"),
        ("the growth fund", "EG-EQ04"),
        ("Cash+ yield", "EG-MM01"),
        # homophones, traditional characters, full-width letters
        ("货币包怎么赎回", "EG-MM01"),
        ("稳赢债券的风险", "EG-BD02"),
        ("長青貨幣寶", "EG-MM01"),
        ("私享股權一期", "EG-PE05"),
        ("ＥＧ－ＭＭ０１", "EG-MM01"),
    ],
)
def test_a_product_named_the_way_customers_write(text, code):
    resolution = resolve(text)
    assert resolution.codes == (code,)
    assert not resolution.candidates and not resolution.unknown


@pytest.mark.parametrize("text", ["the bond fund", "债券基金赎回几天到账", "bond funds fees", "固收类的风险", "Evergreen Bond"])
def test_a_kind_that_fits_several_products_is_left_to_ask(text):
    resolution = resolve(text)
    assert resolution.codes == ()
    assert resolution.candidates == BOND_FUNDS


@pytest.mark.parametrize(
    "text", ["余额宝能买吗", "易方达蓝筹精选基金怎么样", "Can I buy the Platinum fund?", "EG-ZZ09 risk", "hedge fund fees"]
)
def test_a_product_we_do_not_sell_is_unknown(text):
    resolution = resolve(text)
    assert resolution.unknown and not resolution.codes and not resolution.candidates


@pytest.mark.parametrize(
    "text",
    ["那它的手续费呢", "这个基金的手续费", "how does this fund work", "我想买基金", "低风险基金有哪些",
     "I want to cash out", "my income changed", "请明天下午3点给我回电话"],
)
def test_no_product_words_at_all(text):
    assert not resolve(text).names_a_product


def test_several_products_in_text_order():
    assert resolve("What about the Steady Bond and Cash Plus?").codes == ("EG-BD02", "EG-MM01")
    assert resolve("货币包和私募的起投金额").codes == ("EG-MM01", "EG-PE05")


def test_mentions_point_at_what_the_customer_wrote():
    text = "我想了解長青貨幣寶"
    (mention,) = resolve(text).mentions
    assert text[mention.start:mention.end] == "長青貨幣寶"


def test_simplified_keeps_every_character_in_place():
    for text in ["長青貨幣寶贖回", "瞭解一下", "ＥＧ－ＭＭ０１　費用", "plain ascii", "", "\ud800 長青"]:
        assert len(simplified(text)) == len(text)
    assert simplified("贖回要多久？") == "赎回要多久?"


@pytest.mark.parametrize(
    "text,attributes",
    [
        ("美元收益是什么类型的产品", ["type"]),  # 收益 is part of the name, not a question about returns
        ("货币宝保本吗", ["guarantee"]),
        ("Is Cash Plus guaranteed?", ["guarantee"]),
        ("私享股权谁能买", ["eligibility"]),
        ("who can invest in the private equity fund", ["eligibility"]),
        ("長青貨幣寶贖回要多久", ["redemption"]),
        ("稳盈的起购金额、手续费和赎回到账时间", ["minimum", "fees", "redemption"]),
    ],
)
def test_attributes_asked_around_the_product_name(text, attributes):
    assert asked_attributes(text) == attributes


@pytest.mark.parametrize(
    "text", ["how's the rmb doing against usd", "海外客户怎么联系", "我是平衡型的投资者，推荐什么", "I'm a balanced investor"]
)
def test_currency_and_risk_profile_words_alone_name_no_product(text):
    assert not resolve(text).codes and not resolve(text).candidates


@pytest.mark.parametrize(
    "text,code",
    [("成长精算股票的管理费", "EG-EQ04"), ("is Cash Pluss guaranteed", "EG-MM01"), ("the growth one, is it high risk", "EG-EQ04"),
     ("长青平衡的净值跌了吗", "EG-BL03"), ("平衡型那只基金赎回几天到账", "EG-BL03"), ("I'd like to know what Evergreen Cash is", "EG-MM01")],
)
def test_one_character_wrong_short_words_and_half_names(text, code):
    assert resolve(text).codes == (code,)


def test_a_kind_is_not_read_as_a_name_word():
    assert resolve("minimum for the fixed income fund").candidates == BOND_FUNDS


def test_a_new_alias_in_the_knowledge_file_is_understood_without_a_restart(monkeypatch):
    import copy

    from bot import knowledge

    original = knowledge.load
    edited = copy.deepcopy(original("products"))
    edited["products"][0]["aliases"].append("零钱罐")
    monkeypatch.setattr(knowledge, "load", lambda name: edited if name == "products" else original(name))
    assert resolve("零钱罐赎回").codes == ("EG-MM01",)
    monkeypatch.setattr(knowledge, "load", original)
    assert not resolve("零钱罐赎回").codes

"""Surface forms of products and cities, read from the knowledge files."""

from __future__ import annotations

from typing import List, Tuple

from bot import knowledge


def city_aliases() -> List[Tuple[str, str]]:
    """(alias, English city name) of every branch city, longest alias first."""
    aliases = [(alias, branch["city"]) for branch in knowledge.load("branches")["branches"] for alias in branch["aliases"]]
    return sorted(aliases, key=lambda a: len(a[0]), reverse=True)


def chinese_names() -> List[str]:
    """Chinese product and city names, for the tokenizer's dictionary."""
    names = [alias for product in knowledge.load("products")["products"] for alias in product["aliases"]]
    names += [alias for alias, _ in city_aliases()]
    return [name for name in names if not name.isascii()]

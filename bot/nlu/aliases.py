"""Surface forms of products and cities, read from the knowledge files."""

from __future__ import annotations

from typing import List, Tuple

from bot import knowledge

# (alias, entity type, canonical value)
Alias = Tuple[str, str, str]


def entity_aliases() -> List[Alias]:
    """Every product and branch-city alias, longest first so longer names win overlaps."""
    aliases: List[Alias] = []
    for product in knowledge.load("products")["products"]:
        aliases += [(alias, "product", product["code"]) for alias in product["aliases"]]
    for branch in knowledge.load("branches")["branches"]:
        aliases += [(alias, "city", branch["city"]) for alias in branch["aliases"]]
    return sorted(aliases, key=lambda a: len(a[0]), reverse=True)

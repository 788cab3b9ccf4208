"""Benchmark figures side by side (ours, stock, ours/stock), rendered as Markdown and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional


@dataclass
class Row:
    """One figure measured for both assistants; ``better`` is "higher" or "lower"."""

    name: str
    ours: Optional[float]
    stock: Optional[float]
    unit: str
    better: str
    headline: bool = False

    @property
    def ratio(self) -> Optional[float]:
        if self.ours is None or not self.stock:
            return None
        return self.ours / self.stock


@dataclass
class Section:
    letter: str
    key: str
    title: str
    rows: List[Row]
    notes: List[str] = field(default_factory=list)
    details: Dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _value(value: Optional[float], unit: str) -> str:
    if value is None:
        return "–"
    if unit == "%":
        return f"{100 * value:.1f}%"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "msg/s":
        return f"{value:.1f} msg/s"
    if unit == "x":
        return f"{value:.2f}×"
    return f"{value:g}"


def _ratio(row: Row) -> str:
    return "–" if row.ratio is None else f"**{row.ratio:.2f}**"


def _table(rows: List[Row]) -> List[str]:
    lines = ["| figure | ours | stock | ours/stock | better when |", "|---|---:|---:|---:|---|"]
    lines += [
        f"| {r.name} | {_value(r.ours, r.unit)} | {_value(r.stock, r.unit)} | {_ratio(r)} | {r.better} |"
        for r in rows
    ]
    return lines


def to_markdown(sections: List[Section], meta: Dict[str, Any]) -> str:
    """The whole report: headline ratios first, then every section in full."""
    lines = [
        "# Benchmark: our assistant vs stock Rasa",
        "",
        f"Run {meta['finished']} on {meta['cpus']} CPUs, {meta['minutes']:.1f} min"
        + (" — **quick run, small counts**" if meta["quick"] else "")
        + ". Both assistants trained on the same data in this run; the machine is shared and noisy, "
        "so read the ratios first.",
        "",
        "## Headline",
        "",
        *_table([replace(row, name=f"({section.letter}) {row.name}")
                 for section in sections for row in section.rows if row.headline]),
    ]
    for section in sections:
        lines += ["", f"## ({section.letter}) {section.title}", "", *_table(section.rows)]
        if section.notes:
            lines += [""] + [f"- {note}" for note in section.notes]
        lines += ["", f"_{section.seconds:.0f} s_"]
    return "\n".join(lines) + "\n"


def to_json(sections: List[Section], meta: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "meta": meta,
        "sections": [
            {
                **{k: v for k, v in asdict(section).items() if k != "rows"},
                "rows": [{**asdict(row), "ratio": row.ratio} for row in section.rows],
            }
            for section in sections
        ],
    }


def write(sections: List[Section], meta: Dict[str, Any], out_dir: Path) -> str:
    """Write benchmark.md and benchmark.json to ``out_dir``; return the Markdown."""
    markdown = to_markdown(sections, meta)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "benchmark.md").write_text(markdown, encoding="utf-8")
    (out_dir / "benchmark.json").write_text(
        json.dumps(to_json(sections, meta), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return markdown

"""Asset selection expressions over the manifest: a port of core's src/selection.ts.

Same syntax, same order (the manifest's dependency order) and the same error messages, so a
selection typed into an orchestrator's run form selects what ``baton materialize --select`` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .manifest_types import ManifestAsset

SYNTAX = (
    'a selection is terms separated by spaces or commas: "*", a key ("sales/orders"), '
    'a key prefix ("sales/*"), "group:NAME", "tag:KEY" or "tag:KEY=VALUE", '
    'each optionally with "+" (all upstream) on the left and "+" (all downstream) on the right, '
    'or "N+" / "+N" for N levels'
)

_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_TERM = re.compile(r"^(?:(\d*)\+)?(.*?)(?:\+(\d*))?$", re.DOTALL)

# How far a term reaches along dependencies: 0 = not at all, None = transitively.
Depth = int | None


class SelectionError(ValueError):
    """A selection that does not parse or matches nothing; ``hint`` says how to fix it."""

    code = "UNKNOWN_SELECTION"

    def __init__(self, message: str, hint: str) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}\n  fix: {hint}" if hint else message)


@dataclass(frozen=True)
class Term:
    text: str
    kind: str  # "all", "key", "prefix", "group" or "tag"
    value: str = ""  # the key, prefix, group or tag name
    tag_value: str | None = None
    upstream: Depth = 0
    downstream: Depth = 0


def _syntax_error(term: str, problem: str) -> SelectionError:
    return SelectionError(f'invalid selection term "{term}": {problem}', SYNTAX)


def _depth(digits: str | None) -> Depth:
    if digits is None:
        return 0
    return None if digits == "" else int(digits)


def _parse_term(text: str) -> Term:
    if text == "*":
        return Term(text, "all")
    m = _TERM.match(text)
    body = m.group(2) if m else ""
    up = _depth(m.group(1) if m else None)
    down = _depth(m.group(3) if m else None)
    if body == "":
        raise _syntax_error(text, "nothing to select between the + signs")
    if "+" in body:
        raise _syntax_error(
            text, '"+" may only appear at the start or the end of a term'
        )
    if body == "*":
        raise _syntax_error(text, '"*" already selects every asset; drop the "+"')
    if body.startswith("group:"):
        group = body[len("group:") :]
        if group == "":
            raise _syntax_error(text, "missing group name after group:")
        return Term(text, "group", group, None, up, down)
    if body.startswith("tag:"):
        spec = body[len("tag:") :]
        tag, eq, value = spec.partition("=")
        if tag == "":
            raise _syntax_error(text, "missing tag name after tag:")
        return Term(text, "tag", tag, value if eq else None, up, down)
    prefix = body.endswith("/*")
    key = body[:-2] if prefix else body
    if not all(_PART.match(p) for p in key.split("/")):
        raise _syntax_error(
            text,
            f'"{key}" is not an asset key (path parts of letters, digits, '
            "'_', '.' or '-', joined by \"/\")",
        )
    return Term(text, "prefix" if prefix else "key", key, None, up, down)


def parse_selection(expression: str | Sequence[str]) -> list[Term]:
    """The terms of an expression (or of a list of terms); raises SelectionError on bad syntax."""
    text = expression if isinstance(expression, str) else " ".join(expression)
    terms = [t for t in re.split(r"[\s,]+", text) if t != ""]
    if not terms:
        raise SelectionError("the asset selection is empty", SYNTAX)
    return [_parse_term(t) for t in terms]


def is_everything(expression: str | Sequence[str] | None) -> bool:
    """True for no selection, or one made only of "*" terms."""
    if expression is None:
        return True
    return all(t.kind == "all" for t in parse_selection(expression))


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i]
        for j in range(1, len(b) + 1):
            row.append(
                min(
                    prev[j] + 1,
                    row[j - 1] + 1,
                    prev[j - 1] + (0 if a[i - 1] == b[j - 1] else 1),
                )
            )
        prev = row
    return prev[len(b)]


def _suggest(wanted: str, candidates: Iterable[str], what: str) -> str:
    every = list(dict.fromkeys(candidates))
    limit = max(2, len(wanted) // 3)
    scored = [(c, _distance(wanted.lower(), c.lower())) for c in every]
    close = [
        json.dumps(c, ensure_ascii=False)
        for c, _ in sorted(
            (x for x in scored if x[1] <= limit or x[0].startswith(f"{wanted}/")),
            key=lambda x: x[1],
        )[:5]
    ]
    if close:
        return f"did you mean {', '.join(close)}?"
    if not every:
        return f"there are no {what}"
    shown = ", ".join(json.dumps(c, ensure_ascii=False) for c in every[:20])
    more = f", … ({len(every) - 20} more)" if len(every) > 20 else ""
    return f"available {what}: {shown}{more}"


def _unknown(term: Term, problem: str, hint: str) -> SelectionError:
    return SelectionError(f'selection term "{term.text}": {problem}', hint)


def _walk(start: list[str], edges: Mapping[str, list[str]], limit: Depth) -> set[str]:
    into = set(start)
    frontier = start
    level = 0
    while frontier and (limit is None or level < limit):
        nxt: list[str] = []
        for node in frontier:
            for n in edges.get(node, []):
                if n not in into:
                    into.add(n)
                    nxt.append(n)
        frontier = nxt
        level += 1
    return into


def select_assets(
    assets: Sequence[ManifestAsset], expression: str | Sequence[str]
) -> list[str]:
    """Ids of the manifest assets matched by ``expression``, in the order of ``assets``."""
    terms = parse_selection(expression)
    ids = [a["id"] for a in assets]
    known = set(ids)
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for a in assets:
        deps = list(dict.fromkeys(d["id"] for d in a["deps"] if d["id"] in known))
        parents[a["id"]] = deps
        for d in deps:
            children.setdefault(d, []).append(a["id"])
    selected: set[str] = set()
    for term in terms:
        if term.kind == "all":
            selected.update(ids)
            continue
        if term.kind == "key":
            if term.value not in known:
                raise _unknown(
                    term,
                    f'no asset "{term.value}"',
                    _suggest(term.value, ids, "asset keys"),
                )
            base = [term.value]
        elif term.kind == "prefix":
            base = [i for i in ids if i.startswith(f"{term.value}/")]
            if not base:
                raise _unknown(
                    term,
                    f'no asset key starts with "{term.value}/"',
                    _suggest(term.value, ids, "asset keys"),
                )
        elif term.kind == "group":
            base = [a["id"] for a in assets if a["group"] == term.value]
            if not base:
                raise _unknown(
                    term,
                    f'no asset is in group "{term.value}"',
                    _suggest(term.value, (a["group"] for a in assets), "groups"),
                )
        else:
            base = [
                a["id"]
                for a in assets
                if term.value in a["tags"]
                and (term.tag_value is None or a["tags"][term.value] == term.tag_value)
            ]
            if not base:
                tags = [
                    k if term.tag_value is None else f"{k}={v}"
                    for a in assets
                    for k, v in a["tags"].items()
                ]
                wanted = (
                    term.value
                    if term.tag_value is None
                    else f"{term.value}={term.tag_value}"
                )
                raise _unknown(
                    term, f"no asset has tag {wanted}", _suggest(wanted, tags, "tags")
                )
        selected |= _walk(base, parents, term.upstream)
        selected |= _walk(base, children, term.downstream)
    if not selected:
        text = expression if isinstance(expression, str) else " ".join(expression)
        raise SelectionError(
            f'selection "{text}" matches no assets',
            "define assets first, or check that the definitions were loaded",
        )
    return [i for i in ids if i in selected]

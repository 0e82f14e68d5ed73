"""baton_core.selection: the selection syntax, its order and its errors (core's selection.ts)."""

from __future__ import annotations

import pytest
from factories import asset, dep

from baton_core.manifest_types import ManifestAsset
from baton_core.selection import SelectionError, is_everything, select_assets

# raw -> orders -> daily, and raw -> customers; orders is in group "sales" and tagged.
ASSETS: list[ManifestAsset] = [
    asset("raw"),
    asset("sales/orders", [dep("raw")], group="sales", tags={"tier": "gold"}),
    asset("sales/daily", [dep("sales/orders")], group="sales"),
    asset("customers", [dep("raw")], tags={"tier": "silver"}),
]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("sales/orders", ["sales/orders"]),
        ("+sales/daily", ["raw", "sales/orders", "sales/daily"]),
        ("1+sales/daily", ["sales/orders", "sales/daily"]),
        ("raw+1", ["raw", "sales/orders", "customers"]),
        ("raw+", ["raw", "sales/orders", "sales/daily", "customers"]),
        ("sales/*", ["sales/orders", "sales/daily"]),
        ("group:sales", ["sales/orders", "sales/daily"]),
        ("tag:tier", ["sales/orders", "customers"]),
        ("tag:tier=gold", ["sales/orders"]),
        # Terms are unioned; the result keeps the manifest's order, not the terms'.
        ("customers, raw", ["raw", "customers"]),
    ],
)
def test_selects_in_manifest_order(expression: str, expected: list[str]) -> None:
    assert select_assets(ASSETS, expression) == expected


def test_a_list_of_terms_is_the_same_as_an_expression() -> None:
    assert select_assets(ASSETS, ["customers", "sales/daily"]) == select_assets(
        ASSETS, "customers sales/daily"
    )


def test_an_unknown_key_suggests_the_close_ones() -> None:
    with pytest.raises(SelectionError) as caught:
        select_assets(ASSETS, "customer")
    assert caught.value.message == 'selection term "customer": no asset "customer"'
    assert caught.value.hint == 'did you mean "customers"?'
    assert caught.value.code == "UNKNOWN_SELECTION"


def test_an_unknown_key_far_from_any_lists_the_keys() -> None:
    with pytest.raises(SelectionError, match='available asset keys: "raw"'):
        select_assets(ASSETS, "zzzzzzzzzz")


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("a+b", '"+" may only appear at the start or the end of a term'),
        ("+*", '"*" already selects every asset'),
        ("++", "nothing to select between the + signs"),
        ("group:", "missing group name after group:"),
        ("tag:", "missing tag name after tag:"),
        ("sales//orders", "is not an asset key"),
    ],
)
def test_syntax_errors_name_the_term(expression: str, problem: str) -> None:
    with pytest.raises(SelectionError) as caught:
        select_assets(ASSETS, expression)
    assert caught.value.message.startswith(f'invalid selection term "{expression}": ')
    assert problem in caught.value.message
    assert "a selection is terms separated by spaces or commas" in caught.value.hint


def test_an_empty_selection_is_an_error() -> None:
    with pytest.raises(SelectionError, match="the asset selection is empty"):
        select_assets(ASSETS, " , ")


def test_unknown_group_and_tag_list_what_exists() -> None:
    with pytest.raises(SelectionError, match='no asset is in group "sale"') as group:
        select_assets(ASSETS, "group:sale")
    assert group.value.hint == 'did you mean "sales"?'
    with pytest.raises(SelectionError, match="no asset has tag tier=bronze") as tag:
        select_assets(ASSETS, "tag:tier=bronze")
    assert '"tier=gold"' in tag.value.hint


def test_everything() -> None:
    assert is_everything(None)
    assert is_everything("*")
    assert is_everything(["*", "*"])
    assert not is_everything("raw")
    assert select_assets(ASSETS, "*") == [a["id"] for a in ASSETS]

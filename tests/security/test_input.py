"""Hostile documents through Submit: each refused with the right status, nothing stored, node still serving."""

from __future__ import annotations

import grpc
import pytest

from adapters import registry
from gateway.api.swg.v1 import exchange_pb2
from tests.security.harness import POST, SecurityNode
from gateway.testing.documents import aed_batch

# Valid documents (accepted, see below); every attack is a variation of one of them.
ITMATT = registry.encode("upu.itmatt.v1", registry.AED, aed_batch(1, marker="LOC-0001"))
WCO = registry.encode("wco.ecommerce.v1", registry.AED, aed_batch(1, marker="LOC-0001"))
DECL = ITMATT.split(b"?>", 1)[0] + b"?>"
INVALID = grpc.StatusCode.INVALID_ARGUMENT
TOO_BIG = grpc.StatusCode.RESOURCE_EXHAUSTED


def with_doctype(doctype: bytes, local_id: bytes = b"LOC-0001") -> bytes:
    return ITMATT.replace(DECL, DECL + b"\n" + doctype, 1).replace(b"LOC-0001", local_id, 1)


def deep_xml(levels: int) -> bytes:
    inner = b"<itmatt:X>" * levels + b"x" + b"</itmatt:X>" * levels
    return ITMATT.replace(b"<itmatt:Description>", inner + b"<itmatt:Description>", 1)


LAUGHS = b"<!DOCTYPE itmatt:Itmatt [<!ENTITY lol \"lol\">" + b"".join(
    b"<!ENTITY lol%d \"%s\">" % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)) + b"]>"

# (name, format, content, expected status, words the status message must contain)
ATTACKS = [
    ("xxe file", "upu.itmatt.v1",
     with_doctype(b'<!DOCTYPE itmatt:Itmatt [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', b"&xxe;"), INVALID, "doctype"),
    ("xxe parameter entity", "upu.itmatt.v1",
     with_doctype(b'<!DOCTYPE itmatt:Itmatt [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>'), INVALID, "doctype"),
    ("billion laughs", "upu.itmatt.v1", with_doctype(LAUGHS, b"&lol9;"), INVALID, "doctype"),
    ("plain doctype", "upu.itmatt.v1", with_doctype(b"<!DOCTYPE itmatt:Itmatt>"), INVALID, "doctype"),
    ("deep xml nesting", "upu.itmatt.v1", deep_xml(50_000), INVALID, ""),
    ("deep json nesting", "wco.ecommerce.v1", b"[" * 100_000 + b"]" * 100_000, INVALID, ""),
    ("deep json object nesting", "wco.ecommerce.v1", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, INVALID, ""),
    ("invalid utf-8 xml", "upu.itmatt.v1", ITMATT.replace(b"LOC-0001", b"LOC-\xff\xfe\xc3", 1), INVALID, ""),
    ("invalid utf-8 json", "wco.ecommerce.v1", WCO.replace(b"LOC-0001", b"LOC-\xff\xfe\xc3", 1), INVALID, ""),
    ("nul byte xml", "upu.itmatt.v1", ITMATT.replace(b"LOC-0001", b"LOC-\x000001", 1), INVALID, ""),
    ("nul escape json", "wco.ecommerce.v1", WCO.replace(b"LOC-0001", b"LOC-\\u00000001", 1), INVALID, "U+0000"),
    ("nul byte json", "wco.ecommerce.v1", WCO.replace(b"LOC-0001", b"LOC-\x000001", 1), INVALID, ""),
    ("not xml at all", "upu.itmatt.v1", b"\x00\x01\x02garbage", INVALID, ""),
    ("protobuf garbage", "swg.aed.v1", b"\xff" * 64, INVALID, ""),
    ("unknown format", "upu.itmatt.v99", ITMATT, INVALID, "format"),
    ("oversized field protobuf", "swg.aed.v1", aed_batch(1, marker="x" * 200_000).SerializeToString(), INVALID,
     "items[0].contents[0].description"),
    ("oversized field xml", "upu.itmatt.v1", ITMATT.replace(b"LOC-0001", b"x" * 200_000, 1), INVALID, "limit"),
    ("oversized field json", "wco.ecommerce.v1", WCO.replace(b"LOC-0001", b"x" * 200_000, 1), INVALID, "limit"),
    ("content above limits.max_message_bytes", "upu.itmatt.v1",
     ITMATT + b"<!--" + b"x" * (4 * 1024 * 1024) + b"-->", TOO_BIG, "max_message_bytes"),
]


@pytest.mark.parametrize(("name", "fmt", "content", "code", "detail"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_hostile_document_is_refused_and_nothing_is_stored(secnode: SecurityNode, name: str, fmt: str,
                                                           content: bytes, code: grpc.StatusCode, detail: str) -> None:
    post = secnode.client(POST)
    req = exchange_pb2.SubmitRequest(format=fmt, content=content)
    secnode.assert_refused("input", lambda: post.exchange.Submit(req, metadata=post.metadata, timeout=60), code, detail)


def test_valid_itmatt_fixture_is_accepted(secnode: SecurityNode) -> None:
    """The attacks above are variations of this accepted document, so their refusal is about the attack."""
    post = secnode.client(POST)
    resp = post.exchange.Submit(exchange_pb2.SubmitRequest(format="upu.itmatt.v1", content=ITMATT),
                                metadata=post.metadata, timeout=30)
    assert list(resp.recipients) == ["DE/CUSTOMS/MAIN"]
    resp = post.exchange.Submit(exchange_pb2.SubmitRequest(format="wco.ecommerce.v1", content=WCO),
                                metadata=post.metadata, timeout=30)
    assert list(resp.recipients) == ["DE/CUSTOMS/MAIN"]


def test_100_mb_request_is_refused_by_the_grpc_size_limit(secnode: SecurityNode) -> None:
    post = secnode.client(POST)
    req = exchange_pb2.SubmitRequest(format="upu.itmatt.v1", content=b"\x20" * (100 * 1024 * 1024))
    secnode.assert_refused("input", lambda: post.exchange.Submit(req, metadata=post.metadata, timeout=120), TOO_BIG)


@pytest.mark.parametrize(("field", "value"), [
    ("message_id", "m" * 10_000), ("conversation_id", "c" * 129), ("in_reply_to", "bad id with spaces"),
    ("message_id", "id\x00with-nul"),
    # "$" in a pattern matched by re.match accepts one trailing newline: ids are matched whole.
    ("message_id", "RR123456785DE\n"), ("conversation_id", "conv-1\n"), ("in_reply_to", "m-1\n"),
])
def test_oversized_or_bad_request_fields_are_named(secnode: SecurityNode, field: str, value: str) -> None:
    post = secnode.client(POST)
    req = exchange_pb2.SubmitRequest(format="swg.aed.v1", content=aed_batch(1).SerializeToString(), **{field: value})
    secnode.assert_refused("input", lambda: post.exchange.Submit(req, metadata=post.metadata, timeout=30),
                           INVALID, field)


def test_too_many_recipients_do_not_get_through(secnode: SecurityNode) -> None:
    post = secnode.client(POST)
    req = exchange_pb2.SubmitRequest(format="swg.aed.v1", content=aed_batch(1).SerializeToString(),
                                     recipients=[f"XX/NOBODY/N{i}" for i in range(5000)])
    secnode.assert_refused("input", lambda: post.exchange.Submit(req, metadata=post.metadata, timeout=30),
                           INVALID, "limits.max_recipients")

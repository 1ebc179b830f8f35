"""Hostile documents through Submit: each refused with the right status, nothing stored, node still serving."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from adapters import registry
from gateway.api.swg.v1 import exchange_pb2, item_pb2
from tests.security.harness import CUSTOMS, POST, TAX, SecurityNode
from gateway.testing.documents import aed_batch, item
from gateway.testing.federation import Federation
from tests.support import wire

# Valid documents (accepted, see below); every attack is a variation of one of them.
ITMATT = registry.encode("upu.itmatt.v1", registry.AED, aed_batch(1, marker="LOC-0001"))
WCO = registry.encode("wco.ecommerce.v1", registry.AED, aed_batch(1, marker="LOC-0001"))
DECL = ITMATT.split(b"?>", 1)[0] + b"?>"
INVALID = grpc.StatusCode.INVALID_ARGUMENT
TOO_BIG = grpc.StatusCode.RESOURCE_EXHAUSTED
SERVING = health_pb2.HealthCheckResponse.SERVING


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


CONTROL_BYTES = bytes(range(32)) * (1024 * 1024 // 32)  # 1 MiB of control bytes, as in the red-team report


def _aed_with_unknown_field(where: str) -> bytes:
    """One valid AED item as protobuf, with an unknown field 999 carrying 1 MiB of control bytes at ``where``."""
    batch = aed_batch(1)
    unknown = wire.field(999, CONTROL_BYTES)
    if where == "/":
        return batch.SerializeToString() + unknown
    piece = batch.items[0].contents[0].SerializeToString() + unknown
    item = batch.items[0]
    del item.contents[:]
    return wire.field(1, item.SerializeToString() + wire.field(20, piece))  # ItemBatch.items = 1, PostalItem.contents = 20


@pytest.mark.parametrize(("where", "path"), [("/", "/"), ("items[0].contents[0]", "items[0].contents[0]")])
def test_unknown_protobuf_fields_are_refused_with_their_path(secnode: SecurityNode, where: str, path: str) -> None:
    """Protobuf keeps unknown fields and writes them out again: unchecked bytes would reach the recipient."""
    content = _aed_with_unknown_field(where)
    parsed = item_pb2.ItemBatch.FromString(content)
    assert parsed.items[0].contents[0].description == "Wool scarf"  # the known part is a valid document
    post = secnode.client(POST)
    req = exchange_pb2.SubmitRequest(format="swg.aed.v1", content=content)
    err = secnode.assert_refused("input", lambda: post.exchange.Submit(req, metadata=post.metadata, timeout=60),
                                 INVALID, "unknown field number 999")
    assert f"{path}:" in (err.details() or "")


ARABIC = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _dated(fmt: str) -> bytes:
    batch = aed_batch(1, marker="LOC-0001")
    batch.items[0].posted_at.FromJsonString("2026-11-28T10:00:00Z")
    return registry.encode(fmt, registry.AED, batch)


def _swap(content: bytes, old: str, new: str) -> bytes:
    assert old.encode() in content
    return content.replace(old.encode(), new.encode("utf-8"), 1)


# (name, format, content, words the status message must contain: the field and the reason)
NON_ASCII_DIGITS = [
    ("itmatt posting date, Arabic-Indic", "upu.itmatt.v1",
     _swap(_dated("upu.itmatt.v1"), "2026-11-28", "2026-11-28".translate(ARABIC)), "PostingDt"),
    ("wco posting date, fullwidth", "wco.ecommerce.v1",
     _swap(_dated("wco.ecommerce.v1"), "2026-11-28", "2026-11-28".translate(FULLWIDTH)), "PostingDateTime"),
    ("canonical json posting date, Arabic-Indic", "swg.aed.v1+json",
     _swap(_dated("swg.aed.v1+json"), "2026-11-28", "2026-11-28".translate(ARABIC)), "/items/0/postedAt"),
    ("canonical json quantity as a string, fullwidth", "swg.aed.v1+json",
     _swap(_dated("swg.aed.v1+json"), '"quantity": 1', '"quantity": "１２"'), "/items/0/contents/0/quantity"),
    ("canonical json category number as a string, Arabic-Indic", "swg.aed.v1+json",
     _swap(_dated("swg.aed.v1+json"), '"ITEM_CATEGORY_SALE_OF_GOODS"', '"\u0663\u0661"'), "/items/0/category"),
    ("itmatt S10 id, fullwidth", "upu.itmatt.v1",
     _swap(ITMATT, "RR12345678", "RR" + "12345678".translate(FULLWIDTH)), "S10"),
    ("wco S10 id, Arabic-Indic", "wco.ecommerce.v1",
     _swap(WCO, "RR12345678", "RR" + "12345678".translate(ARABIC)), "S10"),
    ("canonical protobuf S10 id, fullwidth", "swg.aed.v1",
     item_pb2.ItemBatch(items=[item_pb2.PostalItem(item_id="RR" + "12345678".translate(FULLWIDTH) + "5FR")])
     .SerializeToString(), "items[0].item_id"),
]


@pytest.mark.parametrize(("name", "fmt", "content", "detail"), NON_ASCII_DIGITS, ids=[a[0] for a in NON_ASCII_DIGITS])
def test_numbers_dates_and_s10_ids_take_ascii_digits_only(secnode: SecurityNode, name: str, fmt: str,
                                                          content: bytes, detail: str) -> None:
    """int(), float() and protobuf's date parser read fullwidth and Arabic-Indic digits as 0-9: the gateway
    would store one value while the document says another to anyone who reads it as text."""
    post = secnode.client(POST)
    req = exchange_pb2.SubmitRequest(format=fmt, content=content)
    secnode.assert_refused("input", lambda: post.exchange.Submit(req, metadata=post.metadata, timeout=30),
                           INVALID, detail)


def _largest_itmatt(max_bytes: int) -> tuple[bytes, int]:
    """An ITMATT document of as many valid items as fit in ``max_bytes``, and its item count."""
    def doc(n: int) -> bytes:
        return registry.encode("upu.itmatt.v1", registry.AED, item_pb2.ItemBatch(
            items=[item(20_000_000 + i) for i in range(n)]))

    per_item = len(doc(2)) - len(doc(1))
    n = (max_bytes - len(doc(1)) + per_item) // per_item
    content = doc(n)
    while len(content) > max_bytes:
        n -= 1 + (len(content) - max_bytes) // per_item
        content = doc(n)
    return content, n


def test_a_maximum_size_document_is_accepted_and_delivered_while_health_checks_are_answered(
        federation: Federation, tmp_path: Path) -> None:
    """A 4 MiB document is decoded and written again in the node's worker process: the node answers
    health checks all the while, and the document arrives whole in the recipient's format."""
    node = SecurityNode(federation, tmp_path)
    try:
        # Below 4 MiB by the few hundred bytes a Delivery adds, so that gRPC's default 4 MiB receive limit
        # of this test client takes it.
        content, items = _largest_itmatt(4 * 1024 * 1024 - 2048)
        post, customs = node.client(POST), node.client(CUSTOMS)
        health = health_pb2_grpc.HealthStub(node.client(TAX).channel)
        with ThreadPoolExecutor(1) as pool:
            submitted = pool.submit(post.exchange.Submit, exchange_pb2.SubmitRequest(
                format="upu.itmatt.v1", content=content), metadata=post.metadata, timeout=120)
            checks = 0
            while True:
                assert health.Check(health_pb2.HealthCheckRequest(), timeout=30).status == SERVING
                checks += 1
                if submitted.done():
                    break
            resp = submitted.result()
        assert list(resp.recipients) == [CUSTOMS] and checks >= 1
        with ThreadPoolExecutor(1) as pool:
            received = pool.submit(customs.receive, 1, 120, format="upu.itmatt.v1")
            while not received.done():
                assert health.Check(health_pb2.HealthCheckRequest(), timeout=30).status == SERVING
            [delivery] = received.result()
        assert delivery.message_id == resp.message_id and delivery.format == "upu.itmatt.v1"
        _, doc = registry.decode("upu.itmatt.v1", delivery.content)
        assert len(doc.items) == items  # type: ignore[attr-defined]
        assert doc.items[-1].item_id == item(20_000_000 + items - 1).item_id  # type: ignore[attr-defined]
    finally:
        node.close()


def test_a_large_invalid_document_is_refused_with_the_path_of_its_problem(secnode: SecurityNode) -> None:
    """Large documents are validated in the worker process: its violations come back with their paths (the
    whole refused, as the request asks all_or_nothing; without it, the item alone: see test_item_outcomes)."""
    content, items = _largest_itmatt(1024 * 1024)
    last = item(20_000_000 + items - 1).item_id
    bad = last[:10] + str((int(last[10]) + 1) % 10) + last[11:]  # wrong check digit
    content = _swap(content, last, bad)
    post = secnode.client(POST)
    req = exchange_pb2.SubmitRequest(format="upu.itmatt.v1", content=content, all_or_nothing=True)
    err = secnode.assert_refused("input", lambda: post.exchange.Submit(req, metadata=post.metadata, timeout=120),
                                 INVALID, "check digit")
    assert f"Item[{items}]" in (err.details() or "")

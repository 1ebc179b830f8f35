"""Access rights: every sender × document type × recipient of the example directory, generated from it.

Forbidden combinations are PERMISSION_DENIED and store nothing, both with explicit recipients and by
default routing; allowed ones are accepted. The expectation is computed here from the directory's routes
(with the placeholders resolved for the documents sent), not by the node's router.
"""

from __future__ import annotations

import itertools
import tomllib
from typing import Any

import grpc
import pytest

from adapters import registry
from gateway.api.swg.v1 import assistance_pb2, exchange_pb2, revenue_pb2
from tests.security.harness import POST, SecurityNode
from gateway.testing.documents import aed_batch, inspection, s10
from gateway.testing.nodes import EXAMPLE_DIRECTORY, HOSTED

DIRECTORY = tomllib.loads(EXAMPLE_DIRECTORY.read_text())
PARTICIPANTS = [p["id"] for p in DIRECTORY["participants"]]
ROUTES = DIRECTORY["routes"]
SENDERS = HOSTED["de-node"]  # who can submit to de-node; fr-node's participants submit to fr-node
ITEMS = [s10(70_000_001 + i, country="FR") for i in range(2)]
REQUESTED = "FR/CUSTOMS/MAIN"
AGREEMENT = DIRECTORY["agreements"][0]["reference"]


def document(doc_type: str) -> tuple[Any, dict[str, str], dict[str, list[str]]]:
    """(document, its routing attributes, placeholder → participants) for one document of each type."""
    if doc_type == registry.AED:
        return aed_batch(2, start=70_000_001), {"destination_country": "DE", "origin_country": "FR"}, {}
    if doc_type == registry.INSPECTION:
        # The items' AED was sent by DE/POST/MAIN (the fixture below submits it first).
        return inspection(ITEMS), {"duties_assessed": "false"}, {"@item_sender": [POST]}
    if doc_type == registry.REVENUE:
        batch = revenue_pb2.RevenueNoticeBatch()
        batch.notices.add(item_id=ITEMS[0], destination_country="DE")
        return batch, {"destination_country": "DE"}, {}
    if doc_type == registry.ASSISTANCE_REQUEST:
        # Complete and covered by the directory's agreement, so that only the route decides.
        req = assistance_pb2.AssistanceRequest(
            requested_administration=REQUESTED, agreement_reference=AGREEMENT, legal_basis="CMAA",
            information_category="goods", assistance_type=assistance_pb2.ASSISTANCE_TYPE_INFORMATION_ON_GOODS,
            subject="Undervaluation", purpose="Verify declared value",
            requesting_officer=assistance_pb2.Officer(name="A. Officer", officer_id="DE-4711"))
        req.deadline.FromSeconds(4_102_444_800)  # 2100-01-01
        return req, {"requested_administration": REQUESTED, "agreement_reference": AGREEMENT,
                     "information_category": "goods"}, {"@requested_administration": [REQUESTED]}
    # An answer without in_reply_to: @reply_to_sender resolves to no one.
    return assistance_pb2.AssistanceResponse(agreement_reference=AGREEMENT, answer="none"), \
        {"agreement_reference": AGREEMENT}, {"@reply_to_sender": []}


def matches(pattern: str, pid: str) -> bool:
    pp, ids = pattern.split("/"), pid.split("/")
    return pattern == "*" or (len(pp) == len(ids) and all(p in ("*", i) for p, i in zip(pp, ids)))


def applicable(sender: str, doc_type: str, attrs: dict[str, str]) -> list[dict[str, Any]]:
    return [r for r in ROUTES if r["document_type"] == doc_type and any(matches(p, sender) for p in r["from"])
            and all(attrs.get(k) == str(v).lower() if isinstance(v, bool) else attrs.get(k) == v
                    for k, v in r.get("when", {}).items())]


def targets(route: dict[str, Any], places: dict[str, list[str]]) -> list[str]:
    return [x for t in route["to"] for x in (places.get(t, []) if t.startswith("@") else [t])]


def expected_explicit(sender: str, doc_type: str, recipient: str) -> bool:
    _, attrs, places = document(doc_type)
    return any(matches(t, recipient) for r in applicable(sender, doc_type, attrs) for t in targets(r, places))


def expected_default(sender: str, doc_type: str) -> list[str]:
    _, attrs, places = document(doc_type)
    out = [t for r in applicable(sender, doc_type, attrs) if r.get("default", True) for t in targets(r, places)
           if "*" not in t and t != sender]
    return list(dict.fromkeys(out))


def unanswerable(sender: str, doc_type: str) -> bool:
    """An assistance answer from an administration that may send answers, but naming no request: it is
    malformed (INVALID_ARGUMENT) before any question of recipients arises."""
    _, attrs, _ = document(doc_type)
    return doc_type == registry.ASSISTANCE_RESPONSE and bool(applicable(sender, doc_type, attrs))


DOC_TYPES = list(registry.DOCUMENT_TYPES)
EXPLICIT = list(itertools.product(SENDERS, DOC_TYPES, PARTICIPANTS))


@pytest.fixture(scope="module")
def matrix_node(secnode: SecurityNode) -> SecurityNode:
    post = secnode.client(POST)
    post.exchange.Submit(exchange_pb2.SubmitRequest(format=registry.AED, content=aed_batch(
        2, start=70_000_001).SerializeToString()), metadata=post.metadata, timeout=30)
    return secnode


def submit(node: SecurityNode, sender: str, doc_type: str, recipients: list[str]) -> exchange_pb2.SubmitResponse:
    c = node.client(sender)
    doc, _, _ = document(doc_type)
    if doc_type == registry.ASSISTANCE_REQUEST:
        doc.requesting_administration = sender
    req = exchange_pb2.SubmitRequest(format=doc_type, content=doc.SerializeToString(), recipients=recipients)
    try:
        return c.exchange.Submit(req, metadata=c.metadata, timeout=30)
    finally:
        c.close()
        node.clients.remove(c)


def test_the_matrix_has_both_outcomes() -> None:
    allowed = sum(expected_explicit(*case) for case in EXPLICIT)
    assert 0 < allowed < len(EXPLICIT)


@pytest.mark.parametrize(("sender", "doc_type", "recipient"), EXPLICIT, ids=["|".join(c) for c in EXPLICIT])
def test_explicit_recipient(matrix_node: SecurityNode, sender: str, doc_type: str, recipient: str) -> None:
    if expected_explicit(sender, doc_type, recipient):
        before = matrix_node.counts()
        resp = submit(matrix_node, sender, doc_type, [recipient])
        assert list(resp.recipients) == [recipient]
        assert matrix_node.counts() == (before[0] + 1, before[1] + 1)
    elif unanswerable(sender, doc_type):
        matrix_node.assert_refused("access", lambda: submit(matrix_node, sender, doc_type, [recipient]),
                                   grpc.StatusCode.INVALID_ARGUMENT, "names the request it answers")
    else:
        matrix_node.assert_refused("access", lambda: submit(matrix_node, sender, doc_type, [recipient]),
                                   grpc.StatusCode.PERMISSION_DENIED, "may not send")


DEFAULT = list(itertools.product(SENDERS, DOC_TYPES))


@pytest.mark.parametrize(("sender", "doc_type"), DEFAULT, ids=["|".join(c) for c in DEFAULT])
def test_default_routing(matrix_node: SecurityNode, sender: str, doc_type: str) -> None:
    want = expected_default(sender, doc_type)
    if want:
        resp = submit(matrix_node, sender, doc_type, [])
        assert list(resp.recipients) == want
    elif unanswerable(sender, doc_type):
        matrix_node.assert_refused("access", lambda: submit(matrix_node, sender, doc_type, []),
                                   grpc.StatusCode.INVALID_ARGUMENT, "names the request it answers")
    else:
        matrix_node.assert_refused("access", lambda: submit(matrix_node, sender, doc_type, []),
                                   grpc.StatusCode.PERMISSION_DENIED, "")

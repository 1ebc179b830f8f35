"""Revenue notice across two nodes: an AED relayed in from the French post, German customs' decision,
the notice DE/TAX/MAIN receives with the value and IOSS number taken from the sealed AED."""

from __future__ import annotations

import datetime as dt
import re


from gateway.api.swg.v1 import common_pb2, exchange_pb2, inspection_pb2, item_pb2, revenue_pb2
from gateway.testing.documents import item
from tests.support.two_nodes import TwoNodes, wait_for

FR_POST, DE_CUSTOMS, DE_TAX = "FR/POST/MAIN", "DE/CUSTOMS/MAIN", "DE/TAX/MAIN"
IOSS = "IM2760000017"
S = exchange_pb2


def submit(client, doc, fmt: str) -> S.SubmitResponse:  # type: ignore[no-untyped-def]
    return client.exchange.Submit(S.SubmitRequest(format=fmt, content=doc.SerializeToString()),
                                  metadata=client.metadata, timeout=30)


def ioss_item() -> item_pb2.PostalItem:
    it = item(44000001, value="40.00")
    it.contents[0].value.amount = "25.00"
    it.sender.tax_ids.add(type=common_pb2.TAX_ID_TYPE_IOSS, value=IOSS)
    it.contents.add(index=2, quantity=1, description="Leather wallet", hs_code="420221", net_weight_kg="0.050",
                    value=common_pb2.Money(amount="15.00", currency="EUR"), origin_country="FR")
    return it


def test_assessed_vat_on_an_ioss_item_reaches_the_tax_authority_with_value_ioss_and_flat_duty(nodes: TwoNodes) -> None:
    post, customs = nodes.client("fr-node", FR_POST), nodes.client("de-node", DE_CUSTOMS)
    tax = nodes.client("de-node", DE_TAX)
    it = ioss_item()
    aed = submit(post, item_pb2.ItemBatch(items=[it]), "swg.aed.v1")
    wait_for(lambda: post.exchange.GetStatus(S.GetStatusRequest(message_id=aed.message_id), metadata=post.metadata)
             .recipients[0].state == S.DELIVERY_STATE_DELIVERED)

    decision = inspection_pb2.InspectionResultBatch()
    r = decision.results.add(item_id=it.item_id, outcome=inspection_pb2.INSPECTION_OUTCOME_DUTIES_ASSESSED)
    r.decided_at.FromDatetime(dt.datetime(2026, 7, 15, 9, 30, tzinfo=dt.timezone.utc))  # flat duty in force
    r.taxes.add(type="VAT", rate="19", amount=common_pb2.Money(amount="7.60", currency="EUR"))
    r.total_fee.CopyFrom(common_pb2.Money(amount="7.60", currency="EUR"))
    inspected = submit(customs, decision, "swg.inspection.v1")
    assert FR_POST in inspected.recipients  # @item_sender, across nodes

    stream = tax.exchange.Receive(S.ReceiveRequest(format="swg.revenue.v1"), metadata=tax.metadata, timeout=30)
    # The tax authority also receives the inspection result itself (a directory route); the notice follows it.
    got = next(d for d in stream if d.document_type == "swg.revenue.v1")
    stream.cancel()
    # Derived from the inspection's id, with a random tail nobody can take first (tests/security/test_item_ownership.py).
    assert re.fullmatch(rf"{re.escape(inspected.message_id)}\.revenue-[0-9a-f]{{16}}", got.message_id)
    assert got.sender == DE_CUSTOMS
    [n] = revenue_pb2.RevenueNoticeBatch.FromString(got.content).notices
    # Hand-computed: EUR 40.00 declared, IOSS → vendor collection; two distinct subheadings (6117.10, 4202.21)
    # × EUR 3.00 = 6.00 flat duty from 1 July 2026; total 7.60 VAT + 6.00 = 13.60.
    assert (n.item_id, n.destination_country, n.ioss_number) == (it.item_id, "DE", IOSS)
    assert n.collection_model == revenue_pb2.COLLECTION_MODEL_VENDOR
    assert (n.declared_value.amount, n.declared_value.currency) == ("40.00", "EUR")
    assert (n.duty_rule, n.duty_rule_effective_from, n.tariff_subheadings) == ("flat_per_subheading", "2026-07-01", 2)
    assert [(t.type, t.amount.amount) for t in n.taxes] == [("VAT", "7.60"), ("FLAT_RATE_DUTY", "6.00")]
    assert (n.total_due.amount, n.total_due.currency) == ("13.60", "EUR")
    assert n.vat_de_minimis_threshold.amount == "0" and not n.vat_de_minimis_applied
    assert (n.assessed_by, n.inspection_message_id) == (DE_CUSTOMS, inspected.message_id)
    tax.exchange.Acknowledge(S.AcknowledgeRequest(message_ids=[got.message_id]), metadata=tax.metadata)

"""Revenue notices to the tax authority, derived by the customs node from an inspection result.

When a customs participant hosted here submits inspection results, this node submits one
``swg.revenue.v1`` batch as that customs participant to the tax authority the directory names for the
destination country (``[revenue.CC] tax_authority``) for every item that is revenue-relevant: duties or
taxes assessed, or an IOSS-covered item released. The notice is an ordinary message: sealed, routed by the directory's access
rights, audited and receipted like any other. Its message id is the inspection message id followed by
``.revenue-`` and 16 random hex digits: readable, yet nobody can take it first (a client-chosen id in
the node's one namespace would otherwise suppress the notice). It is submitted once, after the first
acceptance of the inspection.

The declared value, IOSS number and tariff subheadings come from the item's AED: the latest AED of the
item's owner at this customs (the sender that declared it there first, ``item_owners``), never another
sender's. This node holds the AED only sealed; the customs participant is one of its recipients and its
keys are hosted here, so the node opens it for that participant (``envelope.open``), as it would to
deliver it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import Any

import structlog

from gateway import envelope
from gateway.api.swg.v1 import common_pb2, envelope_pb2, exchange_pb2, inspection_pb2, item_pb2, revenue_pb2
from gateway.federation import Directory, DutyRule, RevenueRules
from gateway.errors import GatewayError
from gateway.node import Node

log = structlog.get_logger("gateway.exchange.revenue")

AED = "swg.aed.v1"
INSPECTION = "swg.inspection.v1"
FLAT_DUTY = "FLAT_RATE_DUTY"
MODELS = {"vendor": revenue_pb2.COLLECTION_MODEL_VENDOR, "intermediary": revenue_pb2.COLLECTION_MODEL_INTERMEDIARY,
          "buyer": revenue_pb2.COLLECTION_MODEL_BUYER, "hybrid": revenue_pb2.COLLECTION_MODEL_HYBRID}
RELEASED = (inspection_pb2.INSPECTION_OUTCOME_RELEASE, inspection_pb2.INSPECTION_OUTCOME_DUTIES_ASSESSED)

ItemLookup = Callable[[list[str]], Awaitable[dict[str, item_pb2.PostalItem]]]


def rule_in_force(rules: RevenueRules, on: dt.date) -> DutyRule | None:
    """The latest dated duty rule effective on ``on``; before the first one, the undated duty_de_minimis."""
    dated = [r for r in rules.duty if r.effective_from is not None and r.effective_from <= on]
    if dated:
        return dated[-1]
    if rules.duty_de_minimis is not None:
        return DutyRule(None, "de_minimis", rules.duty_de_minimis, None)
    return None


def ioss_number(item: item_pb2.PostalItem) -> str:
    """The seller's IOSS number (or its intermediary's), as declared on the sender party."""
    for party in (item.sender, item.addressee):
        for tax_id in party.tax_ids:
            if tax_id.type == common_pb2.TAX_ID_TYPE_IOSS and tax_id.value:
                return tax_id.value
    return ""


def declared_value(item: item_pb2.PostalItem) -> common_pb2.Money | None:
    """The item's declared value; failing that, the sum of its content values when they share a currency."""
    if item.declared_value.amount:
        return item.declared_value
    values = [c.value for c in item.contents if c.value.amount]
    if not values or len({v.currency for v in values}) != 1:
        return None
    return common_pb2.Money(amount=_text(sum((Decimal(v.amount) for v in values), Decimal(0))), currency=values[0].currency)


def tariff_subheadings(item: item_pb2.PostalItem, result: inspection_pb2.InspectionResult) -> set[str]:
    """Distinct HS subheadings (first six digits) of the contents, with customs' revised codes applied."""
    revised = {r.content_index: r.revised_hs_code for r in result.revisions if r.revised_hs_code}
    codes = (revised.get(c.index, c.hs_code) for c in item.contents)
    return {code[:6] for code in codes if len(code) >= 6}


def _text(value: Decimal) -> str:
    return format(value, "f")


def _at_or_below(value: common_pb2.Money | None, threshold: str, currency: str) -> bool:
    # A value in another currency is not converted here: no exchange rate is configured, so no relief is claimed.
    return value is not None and value.currency == currency and Decimal(value.amount) <= Decimal(threshold)


def _decided_on(result: inspection_pb2.InspectionResult, header: envelope_pb2.EnvelopeHeader) -> dt.date:
    at = result.decided_at if result.HasField("decided_at") else header.created_at
    return dt.datetime.fromtimestamp(at.seconds, dt.timezone.utc).date()


def notice_for(rules: RevenueRules, header: envelope_pb2.EnvelopeHeader, result: inspection_pb2.InspectionResult,
               item: item_pb2.PostalItem | None) -> revenue_pb2.RevenueNotice | None:
    """The notice for one decision, or None when it is not revenue-relevant."""
    assessed = result.outcome == inspection_pb2.INSPECTION_OUTCOME_DUTIES_ASSESSED or bool(result.taxes)
    released = result.outcome in RELEASED
    ioss = ioss_number(item) if item is not None else ""
    value = declared_value(item) if item is not None else None
    subheadings = tariff_subheadings(item, result) if item is not None else set()
    rule = rule_in_force(rules, _decided_on(result, header))
    # Customs' own duty line wins: the flat duty is added only when customs assessed no duty itself.
    flat = (rule is not None and rule.kind == "flat_per_subheading" and rule.amount is not None and released
            and bool(subheadings) and (rule.threshold is None or _at_or_below(value, rule.threshold, rules.currency))
            and not any(t.type in ("DUTY", FLAT_DUTY) for t in result.taxes))
    # Customs decides what is due: a plain release is not turned into a notice here, even while a flat duty
    # is in force (that duty is added to notices that go out anyway).
    if not (assessed or (released and ioss)):
        return None

    n = revenue_pb2.RevenueNotice(
        item_id=result.item_id, destination_country=rules.country, ioss_number=ioss,
        collection_model=revenue_pb2.COLLECTION_MODEL_VENDOR if ioss else MODELS[rules.collection_model],
        taxes=list(result.taxes), assessed_by=header.sender, inspection_message_id=header.message_id,
        outcome=result.outcome, tariff_subheadings=len(subheadings))
    if value is not None:
        n.declared_value.CopyFrom(value)
    if rule is not None:
        n.duty_rule = rule.kind
        n.duty_rule_effective_from = rule.effective_from.isoformat() if rule.effective_from else ""
        if rule.kind == "de_minimis" and rule.threshold is not None:
            n.duty_de_minimis_threshold.CopyFrom(common_pb2.Money(amount=rule.threshold, currency=rules.currency))
            n.duty_de_minimis_applied = _at_or_below(value, rule.threshold, rules.currency)
    if rules.vat_de_minimis is not None:
        n.vat_de_minimis_threshold.CopyFrom(common_pb2.Money(amount=rules.vat_de_minimis, currency=rules.currency))
        n.vat_de_minimis_applied = _at_or_below(value, rules.vat_de_minimis, rules.currency)
    added = Decimal(0)
    if flat and rule is not None and rule.amount is not None:
        added = Decimal(rule.amount) * len(subheadings)
        n.taxes.add(type=FLAT_DUTY, amount=common_pb2.Money(amount=_text(added), currency=rules.currency),
                    description=f"{rule.amount} {rules.currency} per distinct tariff subheading x {len(subheadings)} "
                                f"(in force from {rule.effective_from})")
    _total(n, result, added, rules.currency)
    if result.HasField("decided_at"):
        n.assessed_at.CopyFrom(result.decided_at)
    else:
        n.assessed_at.CopyFrom(header.created_at)
    return n


def _total(n: revenue_pb2.RevenueNotice, result: inspection_pb2.InspectionResult, added: Decimal,
           currency: str) -> None:
    """Customs' total fee plus any flat duty added here; without one, the sum of tax lines in one currency."""
    if result.HasField("total_fee") and result.total_fee.amount:
        n.total_due.CopyFrom(result.total_fee)
        if added and result.total_fee.currency == currency:
            n.total_due.amount = _text(Decimal(result.total_fee.amount) + added)
        return
    lines = [t.amount for t in n.taxes if t.amount.amount]
    if lines and len({m.currency for m in lines}) == 1:
        n.total_due.CopyFrom(common_pb2.Money(amount=_text(sum((Decimal(m.amount) for m in lines), Decimal(0))),
                                              currency=lines[0].currency))


def notices_for(directory: Directory, header: envelope_pb2.EnvelopeHeader,
                batch: inspection_pb2.InspectionResultBatch,
                items: dict[str, item_pb2.PostalItem] | None = None,
                ) -> tuple[str, revenue_pb2.RevenueNoticeBatch] | None:
    """(tax authority, notices) for the revenue-relevant results of an inspection batch, or None."""
    country = header.sender.split("/", 1)[0]
    rules = directory.revenue.get(country)
    if rules is None:
        return None
    items = items or {}
    out = revenue_pb2.RevenueNoticeBatch()
    for r in batch.results:
        n = notice_for(rules, header, r, items.get(r.item_id))
        if n is not None:
            out.notices.append(n)
    return (rules.tax_authority, out) if out.notices else None


def aed_items(node: Node, customs: str, item_ids: Iterable[str]) -> dict[str, item_pb2.PostalItem]:
    """item id → its item in its owner's latest AED to ``customs``, opened for ``customs``.

    Blocking (database and decryption): call it in a thread. An AED that customs cannot open (no longer
    verifiable) is left out; its notice then lacks value and IOSS number.
    """
    found = node.store.declarations_of_items(item_ids, customs)
    keys = node.keys.get(customs)
    out: dict[str, item_pb2.PostalItem] = {}
    if keys is None:
        return out
    for message_id in dict.fromkeys(found.values()):
        try:
            opened = envelope.open(node.store.envelope(message_id), keys, node.trust, pq_keys=node.view)
        except GatewayError as exc:
            log.warning("AED not readable for the revenue notice", message_id=message_id, customs=customs,
                        reason=exc.message)
            continue
        for it in item_pb2.ItemBatch.FromString(opened.payload).items:
            if found.get(it.item_id) == message_id:
                out[it.item_id] = it
    return out


def item_lookup(node: Node, customs: str) -> ItemLookup:
    async def lookup(item_ids: list[str]) -> dict[str, item_pb2.PostalItem]:
        return await asyncio.to_thread(aed_items, node, customs, item_ids)
    return lookup


def revenue_message_id(inspection_message_id: str) -> str:
    """``<inspection id>.revenue-<16 random hex digits>``, within the 128 characters of a message id."""
    return f"{inspection_message_id[:103]}.revenue-{secrets.token_hex(8)}"


async def follow_up(directory: Directory, header: envelope_pb2.EnvelopeHeader, doc: Any, hosted: bool,
                    submit: Callable[[str, exchange_pb2.SubmitRequest], Awaitable[Any]],
                    items: ItemLookup | None = None) -> str | None:
    """Submit the revenue notice for an inspection result sent by a hosted customs participant."""
    if header.document_type != INSPECTION or not hosted:
        return None
    found_items = await items([r.item_id for r in doc.results]) if items is not None else {}
    found = notices_for(directory, header, doc, found_items)
    if found is None:
        return None
    tax, batch = found
    req = exchange_pb2.SubmitRequest(
        message_id=revenue_message_id(header.message_id), format="swg.revenue.v1",
        content=batch.SerializeToString(deterministic=True), recipients=[tax],
        conversation_id=header.conversation_id)
    resp = await submit(header.sender, req)
    return str(resp.response.message_id)

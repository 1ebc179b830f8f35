"""Revenue notices to the tax authority, derived by the customs node from an inspection result.

When a customs participant hosted here submits inspection results that assess duties or taxes, this
node submits one ``swg.revenue.v1`` batch as that customs participant to the tax authority the
directory names for the destination country (``[revenue.CC] tax_authority``), with the collection model
and de minimis threshold configured there. The notice is an ordinary message: sealed, routed by the
directory's access rights, audited and receipted like any other. Its message id is derived from the
inspection message id, so that a repeated follow-up is an idempotent resubmission.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gateway.api.swg.v1 import envelope_pb2, exchange_pb2, inspection_pb2, revenue_pb2
from gateway.config import Directory

INSPECTION = "swg.inspection.v1"
MODELS = {"vendor": revenue_pb2.COLLECTION_MODEL_VENDOR, "intermediary": revenue_pb2.COLLECTION_MODEL_INTERMEDIARY,
          "buyer": revenue_pb2.COLLECTION_MODEL_BUYER, "hybrid": revenue_pb2.COLLECTION_MODEL_HYBRID}


def notices_for(directory: Directory, header: envelope_pb2.EnvelopeHeader,
                batch: inspection_pb2.InspectionResultBatch) -> tuple[str, revenue_pb2.RevenueNoticeBatch] | None:
    """(tax authority, notices) for the assessed results of an inspection batch, or None."""
    country = header.sender.split("/", 1)[0]
    rules = directory.revenue.get(country)
    if rules is None:
        return None
    out = revenue_pb2.RevenueNoticeBatch()
    for r in batch.results:
        if r.outcome != inspection_pb2.INSPECTION_OUTCOME_DUTIES_ASSESSED and not r.taxes:
            continue
        n = out.notices.add(item_id=r.item_id, destination_country=country,
                            collection_model=MODELS[rules.collection_model], taxes=list(r.taxes),
                            assessed_by=header.sender, inspection_message_id=header.message_id, outcome=r.outcome)
        if r.HasField("total_fee"):
            n.total_due.CopyFrom(r.total_fee)
        if rules.duty_de_minimis is not None:
            n.duty_de_minimis_threshold.amount = rules.duty_de_minimis
            n.duty_de_minimis_threshold.currency = rules.currency
        if r.HasField("decided_at"):
            n.assessed_at.CopyFrom(r.decided_at)
        else:
            n.assessed_at.CopyFrom(header.created_at)
    return (rules.tax_authority, out) if out.notices else None


async def follow_up(directory: Directory, header: envelope_pb2.EnvelopeHeader, doc: Any, hosted: bool,
                    submit: Callable[[str, exchange_pb2.SubmitRequest], Awaitable[Any]]) -> str | None:
    """Submit the revenue notice for an inspection result sent by a hosted customs participant."""
    if header.document_type != INSPECTION or not hosted:
        return None
    found = notices_for(directory, header, doc)
    if found is None:
        return None
    tax, batch = found
    req = exchange_pb2.SubmitRequest(
        message_id=f"{header.message_id}.revenue"[:128], format="swg.revenue.v1",
        content=batch.SerializeToString(deterministic=True), recipients=[tax],
        conversation_id=header.conversation_id)
    resp = await submit(header.sender, req)
    return str(resp.response.message_id)

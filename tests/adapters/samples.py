"""Canonical sample documents shared by the adapter tests (and used to write the examples)."""

from __future__ import annotations

from gateway.api.swg.v1 import common_pb2, inspection_pb2, item_pb2


def item_batch() -> item_pb2.ItemBatch:
    batch = item_pb2.ItemBatch(batch_reference="DEA-2026-000123")
    batch.extensions["channel"] = "marketplace"
    a = batch.items.add(
        item_id="RR123456785DE", local_id="LOC-0001", origin_post="DPAG", destination_post="LAPOSTE",
        mail_category="A", mail_class="L", mail_subclass="LR", origin_country="DE", destination_country="FR",
        gross_weight_kg="0.850", handling_class="1", category=item_pb2.ITEM_CATEGORY_SALE_OF_GOODS,
        transport_date="2026-11-29", transport_mode="air", receptacle_id="DEFRAAFRCDGAAUR60123001000009",
        origin_office="DEFRAA", destination_office="FRCDGA", dutiable=True,
    )
    a.posted_at.FromJsonString("2026-11-28T09:15:00Z")
    a.insured_value.CopyFrom(common_pb2.Money(amount="50.00", currency="EUR"))
    a.postage.CopyFrom(common_pb2.Money(amount="12.90", currency="EUR"))
    a.declared_value.CopyFrom(common_pb2.Money(amount="45.00", currency="EUR"))
    a.dutiable_value.CopyFrom(common_pb2.Money(amount="45.00", currency="EUR"))
    a.sender.CopyFrom(common_pb2.Party(
        name="Example Shop GmbH", telephone="+49 30 1234567", email="orders@shop.example",
        address=common_pb2.Address(line1="Hauptstrasse 1", city="Berlin", postcode="10115", country_code="DE"),
        tax_ids=[common_pb2.TaxId(type=common_pb2.TAX_ID_TYPE_IOSS, value="IM2760000017")],
    ))
    a.addressee.CopyFrom(common_pb2.Party(
        first_name="Marie", last_name="Dupont", name="Marie Dupont",
        address=common_pb2.Address(line1="12 rue de la Paix", line2="Bât. B", city="Paris", state="IDF",
                                   postcode="75002", country_code="FR"),
    ))
    a.contents.add(index=1, quantity=2, description="Cotton T-shirt", hs_code="610910", net_weight_kg="0.400",
                   value=common_pb2.Money(amount="30.00", currency="EUR"), origin_country="PT")
    a.contents.add(index=2, quantity=1, description="Leather wallet", hs_code="42023100", net_weight_kg="0.200",
                   value=common_pb2.Money(amount="15.00", currency="EUR"), origin_country="IT")
    a.documents.add(document_id="INV-2026-77", name="Commercial invoice", type=item_pb2.ITEM_DOCUMENT_TYPE_INVOICE)
    ev = a.events.add(scheme=item_pb2.EVENT_SCHEME_EMSEVT, code="EMA", office="DEFRAA", location="Frankfurt")
    ev.occurred_at.FromJsonString("2026-11-28T10:00:00Z")
    ev.extensions["ips.UserFid"] = "clerk-7"
    a.extensions["marketplace.order"] = "A-99812"
    b = batch.items.add(item_id="LX806576725TW", origin_country="TW", destination_country="FR",
                        category=item_pb2.ITEM_CATEGORY_GIFT, gross_weight_kg="0.300")
    b.contents.add(index=1, quantity=1, description="Tea", net_weight_kg="0.250",
                   value=common_pb2.Money(amount="8.50", currency="USD"), origin_country="TW")
    return batch


def inspection_batch() -> inspection_pb2.InspectionResultBatch:
    batch = inspection_pb2.InspectionResultBatch(batch_reference="ZOLL-RSP-2026-0042")
    r = batch.results.add(item_id="RR123456785DE", outcome=inspection_pb2.INSPECTION_OUTCOME_DUTIES_ASSESSED,
                          dutiable=True, customs_reference="ATB-2026-551", decision_code="C3")
    r.decided_at.FromJsonString("2026-11-29T08:30:00Z")
    r.reasons.add(code="VAL", text="Value verified against invoice")
    r.total_fee.CopyFrom(common_pb2.Money(amount="11.55", currency="EUR"))
    r.taxes.add(type="VAT", description="Import VAT", amount=common_pb2.Money(amount="8.55", currency="EUR"),
                rate="19", hs_code="610910")
    r.taxes.add(type="FLAT_RATE_DUTY", amount=common_pb2.Money(amount="3.00", currency="EUR"))
    r.revisions.add(content_index=2, revised_description="Leather wallet, cowhide", revised_hs_code="4202310000",
                    import_restrictions="none")
    r.image.CopyFrom(inspection_pb2.InspectionImage(uri="urn:zoll:xray:551", sha256=bytes(range(32)),
                                                    media_type="image/png"))
    batch.results.add(item_id="LX806576725TW", outcome=inspection_pb2.INSPECTION_OUTCOME_RELEASE)
    return batch

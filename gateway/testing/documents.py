"""Valid canonical documents for tests: AED batches with real S10 ids, inspection results."""

from __future__ import annotations

from gateway.api.swg.v1 import common_pb2, inspection_pb2, item_pb2

WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10(serial: int, service: str = "RR", country: str = "DE") -> str:
    digits = f"{serial:08d}"
    s = sum(int(d) * w for d, w in zip(digits, WEIGHTS))
    c = 11 - s % 11
    c = 0 if c == 10 else 5 if c == 11 else c
    return f"{service}{digits}{c}{country}"


def item(serial: int, *, origin: str = "FR", destination: str = "DE", marker: str = "Wool scarf",
         value: str = "25.00", currency: str = "EUR") -> item_pb2.PostalItem:
    return item_pb2.PostalItem(
        item_id=s10(serial, country=origin),
        origin_country=origin,
        destination_country=destination,
        mail_category="A",
        mail_class="C",
        gross_weight_kg="0.450",
        category=item_pb2.ITEM_CATEGORY_SALE_OF_GOODS,
        declared_value=common_pb2.Money(amount=value, currency=currency),
        sender=common_pb2.Party(name="Boutique Lumière", address=common_pb2.Address(
            line1="1 rue de la Paix", city="Paris", postcode="75002", country_code=origin)),
        addressee=common_pb2.Party(name="Erika Mustermann", address=common_pb2.Address(
            line1="Heidestraße 17", city="Köln", postcode="51147", country_code=destination)),
        contents=[item_pb2.ContentPiece(index=1, quantity=1, description=marker, hs_code="611710",
                                        net_weight_kg="0.400", value=common_pb2.Money(amount=value, currency=currency),
                                        origin_country=origin)],
    )


def aed_batch(n: int = 2, *, start: int = 12345678, origin: str = "FR", destination: str = "DE",
              marker: str = "Wool scarf") -> item_pb2.ItemBatch:
    return item_pb2.ItemBatch(items=[item(start + i, origin=origin, destination=destination, marker=marker)
                                     for i in range(n)])


def inspection(item_ids: list[str], outcome: int = inspection_pb2.INSPECTION_OUTCOME_RELEASE,
               taxes: bool = False) -> inspection_pb2.InspectionResultBatch:
    batch = inspection_pb2.InspectionResultBatch()
    for i in item_ids:
        r = batch.results.add(item_id=i, outcome=outcome)
        if taxes:
            r.taxes.add(type="VAT", amount=common_pb2.Money(amount="4.75", currency="EUR"), rate="19")
            r.total_fee.CopyFrom(common_pb2.Money(amount="4.75", currency="EUR"))
    return batch

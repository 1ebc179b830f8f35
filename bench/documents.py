"""The bench's unit of work: one realistic single-item UPU ITMATT document of about 2 KB.

The document is encoded once by the real adapter; each message then gets its own S10 item id by a
byte substitution, so the load generator spends its CPU on calls, not on building XML.
"""

from __future__ import annotations

from adapters import registry
from gateway.api.swg.v1 import common_pb2, item_pb2

WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
TEMPLATE_SERIAL = 10000000
TARGET_BYTES = 2048
GOODS = (
    ("Merino wool scarf, knitted", "611710", "0.180", "24.90"),
    ("Cotton T-shirt, printed, men", "610910", "0.150", "12.50"),
    ("Smartphone protective case, silicone", "392690", "0.040", "6.99"),
    ("Stainless steel water bottle 0.75 l", "732393", "0.320", "18.00"),
    ("Children's picture book, hardcover", "490300", "0.410", "9.95"),
    ("LED desk lamp with USB charger", "940520", "0.650", "29.90"),
    ("Ceramic coffee mug, hand painted", "691200", "0.350", "11.00"),
    ("Bluetooth earphones, wireless", "851830", "0.060", "34.99"),
)


def s10(serial: int, service: str = "RR", country: str = "CN") -> str:
    digits = f"{serial:08d}"
    c = 11 - sum(int(d) * w for d, w in zip(digits, WEIGHTS)) % 11
    c = 0 if c == 10 else 5 if c == 11 else c
    return f"{service}{digits}{c}{country}"


def _item(pieces: int) -> item_pb2.PostalItem:
    money = common_pb2.Money
    contents = [item_pb2.ContentPiece(index=i + 1, quantity=1 + i % 3, description=d, hs_code=hs,
                                      net_weight_kg=w, value=money(amount=v, currency="EUR"), origin_country="CN")
                for i, (d, hs, w, v) in enumerate(GOODS[j % len(GOODS)] for j in range(pieces))]
    return item_pb2.PostalItem(
        item_id=s10(TEMPLATE_SERIAL), local_id="SHP-2026-11-28-004711", origin_post="CNPOST", destination_post="DPAG",
        mail_category="A", mail_class="C", origin_country="CN", destination_country="DE",
        gross_weight_kg="1.450", category=item_pb2.ITEM_CATEGORY_SALE_OF_GOODS,
        declared_value=money(amount="148.22", currency="EUR"), transport_mode="air", transport_date="2026-11-29",
        sender=common_pb2.Party(name="Shenzhen Bright Trading Co., Ltd.", address=common_pb2.Address(
            line1="No. 88 Keyuan Road, Nanshan District", city="Shenzhen", postcode="518057", country_code="CN")),
        addressee=common_pb2.Party(name="Erika Mustermann", address=common_pb2.Address(
            line1="Heidestraße 17", city="Köln", postcode="51147", country_code="DE")),
        contents=contents,
    )


def template() -> bytes:
    """An ITMATT document of about ``TARGET_BYTES``: content pieces are added until it is that large."""
    pieces = 1
    while True:
        batch = item_pb2.ItemBatch(items=[_item(pieces)], batch_reference="CNPOST-ITMATT-2026-000001")
        doc = registry.encode("upu.itmatt.v1", "swg.aed.v1", batch)
        if len(doc) >= TARGET_BYTES or pieces >= 64:
            return doc
        pieces += 1


class Documents:
    """Hands out the template with a fresh, valid S10 item id per message."""

    def __init__(self, start: int = TEMPLATE_SERIAL + 1):
        self._doc = template()
        self._marker = s10(TEMPLATE_SERIAL).encode()
        self._next = start

    def __len__(self) -> int:
        return len(self._doc)

    def next(self) -> bytes:
        serial = self._next
        self._next = TEMPLATE_SERIAL + 1 + (serial - TEMPLATE_SERIAL) % 89_999_999
        return self._doc.replace(self._marker, s10(serial).encode())


def large_itmatt(max_bytes: int) -> bytes:
    """The largest ITMATT document of realistic items (one content piece each) that fits in ``max_bytes``."""
    def size(n: int) -> int:
        return len(registry.encode("upu.itmatt.v1", "swg.aed.v1", item_pb2.ItemBatch(items=[_small(i) for i in range(n)])))

    per_item = size(2) - size(1)
    n = max(1, (max_bytes - (size(1) - per_item)) // per_item)
    while True:
        doc = registry.encode("upu.itmatt.v1", "swg.aed.v1", item_pb2.ItemBatch(items=[_small(i) for i in range(n)]))
        if len(doc) <= max_bytes or n == 1:
            return doc
        n = max(1, int(n * max_bytes / len(doc) * 0.995))


def _small(i: int) -> item_pb2.PostalItem:
    item = _item(1)
    item.item_id = s10(TEMPLATE_SERIAL + i)
    item.declared_value.amount = "24.90"
    return item

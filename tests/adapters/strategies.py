"""Hypothesis strategies for valid canonical documents (they pass adapters.validation)."""

from __future__ import annotations

from hypothesis import strategies as st

from adapters.upu import s10
from gateway.api.swg.v1 import common_pb2, inspection_pb2, item_pb2

COUNTRIES = ["DE", "FR", "US", "CN", "GB", "AU", "MY", "IN", "TW", "BR"]
CURRENCIES = ["EUR", "USD", "GBP", "CNY", "JPY", "MYR"]
INDICATORS = ["RR", "LX", "EA", "CP", "UA", "VV", "HA", "QA", "MA"]

# Text every format can carry: no control characters, no surrounding blanks (XML readers strip them).
_chars = st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"), blacklist_characters="\ufeff")
text = st.text(_chars, min_size=1, max_size=12).map(str.strip).filter(bool)
opt_text = st.one_of(st.just(""), text)
decimal = st.builds(lambda i, f: f"{i}.{f:02d}" if f >= 0 else str(i), st.integers(0, 99999), st.integers(-1, 99))
positive = st.builds(lambda i, f: f"{i + 1}.{f:03d}", st.integers(0, 999), st.integers(0, 999))


@st.composite
def s10_ids(draw: st.DrawFn) -> str:
    serial = f"{draw(st.integers(0, 99_999_999)):08d}"
    return f"{draw(st.sampled_from(INDICATORS))}{serial}{s10.check_digit(serial)}{draw(st.sampled_from(COUNTRIES))}"


def money(currency: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[common_pb2.Money]:
    return st.builds(common_pb2.Money, amount=decimal, currency=currency or st.sampled_from(CURRENCIES))


timestamps = st.builds(lambda s, n: _ts(s, n), st.integers(0, 4_000_000_000), st.integers(0, 999_999_999))


def _ts(seconds: int, nanos: int):  # type: ignore[no-untyped-def]
    from google.protobuf.timestamp_pb2 import Timestamp

    return Timestamp(seconds=seconds, nanos=nanos)


def _maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.one_of(st.none(), strategy)


@st.composite
def parties(draw: st.DrawFn) -> common_pb2.Party:
    p = common_pb2.Party(name=draw(opt_text), first_name=draw(opt_text), last_name=draw(opt_text),
                         telephone=draw(opt_text), fax=draw(opt_text), email=draw(opt_text))
    if draw(st.booleans()):
        p.address.CopyFrom(common_pb2.Address(line1=draw(opt_text), line2=draw(opt_text), city=draw(opt_text),
                                              state=draw(opt_text), postcode=draw(opt_text),
                                              country_code=draw(st.sampled_from(COUNTRIES))))
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from([1, 2, 3, 4]))
        value = "IM2760000017" if kind == 1 else draw(text)
        p.tax_ids.add(type=kind, value=value)
    return p


@st.composite
def postal_items(draw: st.DrawFn, item_id: str) -> item_pb2.PostalItem:
    it = item_pb2.PostalItem(
        item_id=item_id, local_id=draw(opt_text), origin_post=draw(opt_text), destination_post=draw(opt_text),
        mail_category=draw(opt_text), mail_class=draw(opt_text), mail_subclass=draw(opt_text),
        origin_country=draw(st.sampled_from([""] + COUNTRIES)),
        destination_country=draw(st.sampled_from([""] + COUNTRIES)),
        gross_weight_kg=draw(st.one_of(st.just(""), positive)), handling_class=draw(opt_text),
        category=draw(st.sampled_from([11, 21, 31, 32, 91, 991])),
        transport_date=draw(opt_text), transport_mode=draw(opt_text),
        origin_office=draw(opt_text), destination_office=draw(opt_text),
    )
    if draw(st.booleans()):
        it.receptacle_id = "AUSYDBMYKULAAEM70095002000070"
    if (ts := draw(_maybe(timestamps))) is not None:
        it.posted_at.CopyFrom(ts)
    for field in ("insured_value", "postage", "dutiable_value"):
        if (m := draw(_maybe(money()))) is not None:
            getattr(it, field).CopyFrom(m)
    if (d := draw(st.sampled_from([None, True, False]))) is not None:
        it.dutiable = d
    for side in ("sender", "addressee"):
        if draw(st.booleans()):
            getattr(it, side).CopyFrom(draw(parties()))
    currency = draw(st.sampled_from(CURRENCIES))
    total = 0
    for i in range(draw(st.integers(0, 3))):
        cents = draw(st.integers(0, 10_000))
        total += cents
        it.contents.add(index=i + 1, quantity=draw(st.integers(1, 1000)), description=draw(opt_text),
                        hs_code=draw(st.from_regex(r"\A[0-9]{6,10}\Z")), net_weight_kg=draw(st.one_of(st.just(""), positive)),
                        value=common_pb2.Money(amount=f"{cents // 100}.{cents % 100:02d}", currency=currency),
                        origin_country=draw(st.sampled_from([""] + COUNTRIES)))
    if draw(st.booleans()):
        extra = draw(st.integers(0, 1000))
        it.declared_value.CopyFrom(common_pb2.Money(amount=f"{(total + extra) // 100}.{(total + extra) % 100:02d}",
                                                    currency=currency))
    for _ in range(draw(st.integers(0, 2))):
        it.documents.add(document_id=draw(opt_text), name=draw(opt_text), type=draw(st.sampled_from([0, 1, 2, 3, 4])))
    for _ in range(draw(st.integers(0, 2))):
        ev = it.events.add(scheme=draw(st.sampled_from([0, 1, 2])), code=draw(text), office=draw(opt_text),
                           location=draw(opt_text), condition_code=draw(opt_text),
                           retention_reason=draw(opt_text), non_delivery_reason=draw(opt_text),
                           non_delivery_measure=draw(opt_text))
        if (ts := draw(_maybe(timestamps))) is not None:
            ev.occurred_at.CopyFrom(ts)
        ev.extensions.update(draw(st.dictionaries(text, opt_text, max_size=2)))
    it.extensions.update(draw(st.dictionaries(text, opt_text, max_size=2)))
    return it


@st.composite
def item_batches(draw: st.DrawFn) -> item_pb2.ItemBatch:
    ids = draw(st.lists(s10_ids(), min_size=1, max_size=3, unique=True))
    batch = item_pb2.ItemBatch(batch_reference=draw(opt_text))
    for ident in ids:
        batch.items.append(draw(postal_items(ident)))
    batch.extensions.update(draw(st.dictionaries(text, opt_text, max_size=2)))
    return batch


@st.composite
def inspection_batches(draw: st.DrawFn) -> inspection_pb2.InspectionResultBatch:
    batch = inspection_pb2.InspectionResultBatch(batch_reference=draw(opt_text))
    for _ in range(draw(st.integers(1, 3))):
        r = batch.results.add(item_id=draw(s10_ids()), outcome=draw(st.integers(1, 8)),
                              customs_reference=draw(opt_text), decision_code=draw(opt_text))
        if (ts := draw(_maybe(timestamps))) is not None:
            r.decided_at.CopyFrom(ts)
        if (d := draw(st.sampled_from([None, True, False]))) is not None:
            r.dutiable = d
        if (m := draw(_maybe(money()))) is not None:
            r.total_fee.CopyFrom(m)
        for _ in range(draw(st.integers(0, 2))):
            r.reasons.add(code=draw(opt_text), text=draw(opt_text))
        for _ in range(draw(st.integers(0, 2))):
            tax = r.taxes.add(type=draw(opt_text), description=draw(opt_text), rate=draw(st.one_of(st.just(""), decimal)),
                              hs_code=draw(st.one_of(st.just(""), st.from_regex(r"\A[0-9]{6,10}\Z"))))
            if (m := draw(_maybe(money()))) is not None:
                tax.amount.CopyFrom(m)
        for i in range(draw(st.integers(0, 2))):
            r.revisions.add(content_index=i + 1, revised_description=draw(opt_text),
                            revised_hs_code=draw(st.one_of(st.just(""), st.from_regex(r"\A[0-9]{6,10}\Z"))),
                            import_restrictions=draw(opt_text))
        if draw(st.booleans()):
            r.image.CopyFrom(inspection_pb2.InspectionImage(uri=draw(opt_text), media_type=draw(opt_text),
                                                            sha256=draw(st.sampled_from([b"", bytes(32)]))))
    return batch

"""Revenue notices: the duty rule in force at the decision time, and the amounts a tax authority relies on."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.exchange import revenue
from gateway.api.swg.v1 import common_pb2, envelope_pb2, inspection_pb2, item_pb2, revenue_pb2
from gateway.federation import DutyRule, RevenueRules, parse_directory_bytes
from gateway.errors import ConfigError
from gateway.testing.documents import item

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "federation.toml"
IOSS = "IM2760000017"
FLAT = DutyRule(dt.date(2026, 7, 1), "flat_per_subheading", "150.00", "3.00")
DE = RevenueRules("DE", "EUR", "150.00", "0", "buyer", "DE/TAX/MAIN", (FLAT,))
O = inspection_pb2


def at(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, 12, tzinfo=dt.timezone.utc)


def header(created: dt.datetime = at(2026, 3, 2)) -> envelope_pb2.EnvelopeHeader:
    h = envelope_pb2.EnvelopeHeader(message_id="insp-1", sender="DE/CUSTOMS/MAIN", document_type="swg.inspection.v1")
    h.created_at.FromDatetime(created)
    return h


def result(outcome: int = O.INSPECTION_OUTCOME_RELEASE, decided: dt.datetime | None = None, vat: str = "",
           item_id: str = "RR123456785FR") -> inspection_pb2.InspectionResult:
    r = O.InspectionResult(item_id=item_id, outcome=outcome)
    if decided is not None:
        r.decided_at.FromDatetime(decided)
    if vat:
        r.taxes.add(type="VAT", rate="19", amount=common_pb2.Money(amount=vat, currency="EUR"))
        r.total_fee.CopyFrom(common_pb2.Money(amount=vat, currency="EUR"))
    return r


def goods(value: str = "40.00", hs: tuple[str, ...] = ("611710",), ioss: str = "") -> item_pb2.PostalItem:
    it = item(12345678, value=value)
    del it.contents[:]
    for i, code in enumerate(hs, start=1):
        it.contents.add(index=i, quantity=1, description="scarf", hs_code=code,
                        value=common_pb2.Money(amount="1.00", currency="EUR"))
    if ioss:
        it.sender.tax_ids.add(type=common_pb2.TAX_ID_TYPE_IOSS, value=ioss)
    return it


def test_rule_in_force_is_the_undated_relief_before_the_change_and_the_flat_duty_from_1_july_2026() -> None:
    assert revenue.rule_in_force(DE, dt.date(2026, 6, 30)) == DutyRule(None, "de_minimis", "150.00", None)
    assert revenue.rule_in_force(DE, dt.date(2026, 7, 1)) == FLAT
    later = DutyRule(dt.date(2028, 1, 1), "de_minimis", "0", None)
    rules = RevenueRules("DE", "EUR", None, None, "buyer", "DE/TAX/MAIN", (FLAT, later))
    assert revenue.rule_in_force(rules, dt.date(2027, 12, 31)) == FLAT
    assert revenue.rule_in_force(rules, dt.date(2028, 1, 1)) == later
    assert revenue.rule_in_force(rules, dt.date(2026, 1, 1)) is None  # no undated relief configured


def test_before_the_change_an_ioss_item_with_vat_gets_value_ioss_vendor_model_and_duty_relief() -> None:
    n = revenue.notice_for(DE, header(), result(O.INSPECTION_OUTCOME_DUTIES_ASSESSED, at(2026, 6, 30), vat="7.60"),
                           goods("40.00", ioss=IOSS))
    assert n is not None
    assert (n.ioss_number, n.collection_model) == (IOSS, revenue_pb2.COLLECTION_MODEL_VENDOR)
    assert (n.declared_value.amount, n.declared_value.currency) == ("40.00", "EUR")
    assert (n.duty_rule, n.duty_rule_effective_from) == ("de_minimis", "")
    assert n.duty_de_minimis_applied and n.duty_de_minimis_threshold.amount == "150.00"
    assert not n.vat_de_minimis_applied and n.vat_de_minimis_threshold.amount == "0"
    assert [(t.type, t.amount.amount) for t in n.taxes] == [("VAT", "7.60")]
    assert n.total_due.amount == "7.60"


def test_from_1_july_2026_three_euros_per_distinct_subheading_are_added_to_the_total() -> None:
    # Three content lines, two distinct six-digit subheadings (6117.10 twice, once as a 10-digit code).
    it = goods("40.00", hs=("611710", "6117100010", "420221"), ioss=IOSS)
    n = revenue.notice_for(DE, header(), result(O.INSPECTION_OUTCOME_DUTIES_ASSESSED, at(2026, 7, 1), vat="7.60"), it)
    assert n is not None
    assert (n.duty_rule, n.duty_rule_effective_from, n.tariff_subheadings) == ("flat_per_subheading", "2026-07-01", 2)
    assert not n.duty_de_minimis_applied and not n.HasField("duty_de_minimis_threshold")
    assert [(t.type, t.amount.amount) for t in n.taxes] == [("VAT", "7.60"), ("FLAT_RATE_DUTY", "6.00")]
    assert (n.total_due.amount, n.total_due.currency) == ("13.60", "EUR")


def test_customs_revision_of_a_tariff_code_counts_for_the_flat_duty() -> None:
    r = result(O.INSPECTION_OUTCOME_DUTIES_ASSESSED, at(2026, 8, 3))
    r.taxes.add(type="VAT", rate="19", amount=common_pb2.Money(amount="7.60", currency="EUR"))
    r.revisions.add(content_index=2, revised_hs_code="611710")  # same subheading as line 1 after all
    n = revenue.notice_for(DE, header(), r, goods("40.00", hs=("611710", "420221")))
    assert n is not None and n.tariff_subheadings == 1
    assert [(t.type, t.amount.amount) for t in n.taxes] == [("VAT", "7.60"), ("FLAT_RATE_DUTY", "3.00")]
    assert n.total_due.amount == "10.60"  # no total fee from customs: the sum of the lines
    assert n.collection_model == revenue_pb2.COLLECTION_MODEL_BUYER and n.ioss_number == ""


def test_no_flat_duty_above_its_threshold_or_when_customs_assessed_duty_itself() -> None:
    n = revenue.notice_for(DE, header(), result(O.INSPECTION_OUTCOME_DUTIES_ASSESSED, at(2026, 8, 3), vat="28.50"),
                           goods("150.01"))
    assert n is not None and [t.type for t in n.taxes] == ["VAT"] and n.total_due.amount == "28.50"
    r = result(O.INSPECTION_OUTCOME_DUTIES_ASSESSED, at(2026, 8, 3))
    r.taxes.add(type="DUTY", amount=common_pb2.Money(amount="12.00", currency="EUR"))
    n = revenue.notice_for(DE, header(), r, goods("40.00"))
    assert n is not None and [t.type for t in n.taxes] == ["DUTY"] and n.total_due.amount == "12.00"


def test_release_of_an_ioss_item_is_notified_without_taxes_and_a_plain_release_is_not() -> None:
    n = revenue.notice_for(DE, header(), result(decided=at(2026, 3, 2)), goods("40.00", ioss=IOSS))
    assert n is not None and not n.taxes and n.collection_model == revenue_pb2.COLLECTION_MODEL_VENDOR
    assert revenue.notice_for(DE, header(), result(decided=at(2026, 3, 2)), goods("40.00")) is None
    # Nor while the flat duty is in force: customs decides what is due.
    assert revenue.notice_for(DE, header(), result(decided=at(2026, 8, 3)), goods("40.00")) is None
    held = result(O.INSPECTION_OUTCOME_HOLD_FOR_INSPECTION, at(2026, 3, 2))
    assert revenue.notice_for(DE, header(), held, goods("40.00", ioss=IOSS)) is None


def test_decision_time_defaults_to_the_envelope_creation_and_relief_is_not_claimed_across_currencies() -> None:
    r = result(O.INSPECTION_OUTCOME_DUTIES_ASSESSED, vat="7.60")
    it = goods("40.00")
    it.declared_value.currency = "USD"
    n = revenue.notice_for(DE, header(at(2026, 7, 2)), r, it)
    assert n is not None and n.duty_rule == "flat_per_subheading"
    assert n.assessed_at.ToDatetime(dt.timezone.utc) == at(2026, 7, 2)
    assert [t.type for t in n.taxes] == ["VAT"]  # USD 40 is not compared with EUR 150: no flat duty claimed
    n = revenue.notice_for(DE, header(at(2026, 3, 2)), r, it)
    assert n is not None and not n.duty_de_minimis_applied


def test_example_directory_configures_the_dated_rule() -> None:
    d = parse_directory_bytes(EXAMPLE.read_bytes(), EXAMPLE)
    assert d.revenue["DE"].duty == (FLAT,)
    assert d.revenue["DE"].vat_de_minimis == "0"


def test_bad_duty_rules_are_refused_naming_each_key() -> None:
    text = EXAMPLE.read_text() + """
[[revenue.DE.duty]]
effective_from = "1 July 2027"
kind = "flat_per_subheading"
amount = "3"

[[revenue.DE.duty]]
effective_from = 2027-07-01
kind = "flat_per_subheading"

[[revenue.DE.duty]]
effective_from = 2027-07-01
kind = "per_parcel"
"""
    with pytest.raises(ConfigError) as err:
        parse_directory_bytes(text.encode(), EXAMPLE)
    keys = {v.field for v in err.value.problems}
    assert {"revenue.DE.duty[1].effective_from", "revenue.DE.duty[2].amount", "revenue.DE.duty[3].kind"} <= keys

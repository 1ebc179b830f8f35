"""The directory's [rules.CC] tables: which validation rules are errors or warnings for items bound for CC."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import validation
from gateway.errors import ConfigError
from gateway.federation import parse_directory_bytes
from gateway.testing.documents import item
from gateway.api.swg.v1 import item_pb2

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "federation.toml"


def test_rule_classes_are_read_per_country() -> None:
    text = EXAMPLE.read_text() + '\n[rules.DE]\nweight-zero = "error"\n\n[rules.FR]\nhs-code-required = "warning"\n'
    d = parse_directory_bytes(text.encode(), EXAMPLE)
    assert d.rules == {"DE": {"weight-zero": "error"}, "FR": {"hs-code-required": "warning"}}


def test_unknown_rules_classes_and_countries_are_refused_naming_each_key() -> None:
    text = EXAMPLE.read_text() + ('\n[rules.DE]\nweight-zero = "fatal"\nno-such-rule = "error"\n'
                                  '\n[rules.germany]\nweight-zero = "error"\n')
    with pytest.raises(ConfigError) as err:
        parse_directory_bytes(text.encode(), EXAMPLE)
    keys = {v.field for v in err.value.problems}
    assert {"rules.DE.weight-zero", "rules.DE.no-such-rule", "rules.germany"} <= keys


def test_the_class_follows_the_destination_country_of_each_item() -> None:
    batch = item_pb2.ItemBatch(items=[item(12345678, destination="DE"), item(12345679, destination="FR")])
    for i in batch.items:
        i.gross_weight_kg = "0.000"
    problems, warnings, flags = validation.check_item_batch(batch, profile=validation.PROFILE_LOGISTIC,
                                                            classes={"DE": {"weight-zero": "error"}})
    assert [v.path for v in problems] == ["items[0].gross_weight_kg"]
    assert [w.path for w in warnings] == ["items[1].gross_weight_kg"] and flags == [("items[1].gross_weight_kg", "weight-zero")]
    # Profile aed (ITMATT, WCO): an error by default, a warning where the country says so.
    problems, warnings, _ = validation.check_item_batch(batch, classes={"FR": {"weight-zero": "warning"}})
    assert [v.path for v in problems] == ["items[0].gross_weight_kg"] and [w.path for w in warnings] == [
        "items[1].gross_weight_kg"]

"""Round-trip properties: decode(encode(x)) == x for every adapter that writes, on generated valid data."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from adapters import registry, validation
from adapters.errors import UnsupportedConversion
from tests.adapters import samples
from tests.adapters.strategies import inspection_batches, item_batches

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AED_FORMATS = [f for f in registry.formats_for("swg.aed.v1") if f != "upu.ips.v1"]
INSPECTION_FORMATS = registry.formats_for("swg.inspection.v1")


def test_format_lists() -> None:
    assert set(AED_FORMATS) == {"swg.aed.v1", "swg.aed.v1+json", "upu.itmatt.v1", "wco.ecommerce.v1"}
    assert set(INSPECTION_FORMATS) == {"swg.inspection.v1", "swg.inspection.v1+json", "upu.cusrsp.v1"}


@SETTINGS
@given(batch=item_batches())
def test_generated_item_batches_are_valid(batch) -> None:  # type: ignore[no-untyped-def]
    assert validation.validate_item_batch(batch) == []


@pytest.mark.parametrize("fmt", AED_FORMATS)
@SETTINGS
@given(batch=item_batches())
def test_item_batch_round_trip(fmt: str, batch) -> None:  # type: ignore[no-untyped-def]
    content = registry.encode(fmt, "swg.aed.v1", batch)
    assert registry.decode(fmt, content) == ("swg.aed.v1", batch)


@pytest.mark.parametrize("fmt", INSPECTION_FORMATS)
@SETTINGS
@given(batch=inspection_batches())
def test_inspection_batch_round_trip(fmt: str, batch) -> None:  # type: ignore[no-untyped-def]
    content = registry.encode(fmt, "swg.inspection.v1", batch)
    assert registry.decode(fmt, content) == ("swg.inspection.v1", batch)


def test_every_postal_item_field_is_written_by_itmatt_and_wco() -> None:
    """The sample sets every PostalItem field; both writers must carry each one."""
    item = samples.item_batch().items[0]
    unset = [f.name for f in item.DESCRIPTOR.fields if f.name not in
             {fd.name for fd, _ in item.ListFields()}]
    assert unset == []
    for fmt in ("upu.itmatt.v1", "wco.ecommerce.v1"):
        _, back = registry.decode(fmt, registry.encode(fmt, "swg.aed.v1", samples.item_batch()))
        assert back.items[0] == item


def test_ips_is_read_only() -> None:
    with pytest.raises(UnsupportedConversion):
        registry.encode("upu.ips.v1", "swg.aed.v1", samples.item_batch())


def test_wrong_document_type_for_format() -> None:
    with pytest.raises(UnsupportedConversion):
        registry.encode("upu.itmatt.v1", "swg.inspection.v1", samples.inspection_batch())
    with pytest.raises(UnsupportedConversion):
        registry.encode("upu.itmatt.v1", "swg.aed.v1", samples.inspection_batch())

"""Fuzzing every decoder: random bytes and mutated valid documents raise only AdapterError subclasses."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import registry
from adapters.errors import AdapterError, DocumentError
from tests.adapters import samples

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"

VALID: dict[str, bytes] = {
    "upu.itmatt.v1": (ROOT / "adapters/upu/examples/itmatt-example.xml").read_bytes(),
    "upu.cusrsp.v1": (ROOT / "adapters/upu/examples/cusrsp-example.xml").read_bytes(),
    "upu.ips.v1": (FIXTURES / "upu-ips/IPSExport.xml").read_bytes(),
    "wco.ecommerce.v1": (ROOT / "adapters/wco/examples/ecommerce-example.json").read_bytes(),
    "swg.aed.v1": samples.item_batch().SerializeToString(),
    "swg.aed.v1+json": registry.encode("swg.aed.v1+json", "swg.aed.v1", samples.item_batch()),
    "swg.inspection.v1": samples.inspection_batch().SerializeToString(),
    "swg.inspection.v1+json": registry.encode("swg.inspection.v1+json", "swg.inspection.v1",
                                              samples.inspection_batch()),
}
FORMATS = registry.known_formats()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Snippets that make mutations structurally interesting for the XML and JSON readers.
TOKENS = [b"<", b">", b"</", b"/>", b"&", b"&amp;", b'"', b"'", b"]]>", b"<![CDATA[", b"<!--", b"-->",
          b"<!DOCTYPE x>", b"\x00", b"\xff", b"\xc3", b"{", b"}", b"[", b"]", b":", b",", b"null", b"true",
          b"-1", b"1e999", b"99999999999999999999", b"RR123456785DE", b"\n", b" ", b"\\u0000", b"\\ud800"]


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "token", "truncate", "duplicate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[pos:pos + draw(st.integers(1, 40))]
        elif op == "token":
            data[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == "truncate":
            del data[pos:]
        elif op == "duplicate" and data:
            end = min(len(data), pos + draw(st.integers(1, 200)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


def _decode_only_adapter_errors(fmt: str, content: bytes) -> None:
    try:
        document_type, msg = registry.decode(fmt, content)
    except AdapterError:
        return
    # Whatever decodes also encodes into every format of its type (or says it cannot), without crashing.
    for out in registry.formats_for(document_type):
        try:
            registry.encode(out, document_type, msg)
        except AdapterError:
            pass


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(content=st.binary(max_size=300))
def test_random_bytes(fmt: str, content: bytes) -> None:
    _decode_only_adapter_errors(fmt, content)


@pytest.mark.parametrize("fmt", sorted(VALID))
@SETTINGS
@given(data=st.data())
def test_mutated_valid_documents(fmt: str, data: st.DataObject) -> None:
    _decode_only_adapter_errors(fmt, data.draw(mutated(VALID[fmt])))


@pytest.mark.parametrize("fmt", sorted(VALID))
def test_valid_documents_decode(fmt: str) -> None:
    registry.decode(fmt, VALID[fmt])


@pytest.mark.parametrize("fmt", ["upu.itmatt.v1", "upu.cusrsp.v1", "upu.ips.v1", "wco.ecommerce.v1"])
@SETTINGS
@given(text=st.text(max_size=30))
def test_any_text_in_a_value(fmt: str, text: str) -> None:
    """Arbitrary text (escaped properly) in an identifier position never crashes a decoder."""
    base = VALID[fmt]
    if fmt == "wco.ecommerce.v1":
        import json

        escaped = json.dumps(text)[1:-1].encode()
    else:
        from xml.sax.saxutils import escape

        escaped = escape(text, {'"': "&quot;"}).encode("utf-8", "surrogatepass")
    for ident in (b"RR123456785DE", b"EJ211039802AU"):
        base = base.replace(ident, escaped, 1)
    _decode_only_adapter_errors(fmt, base)


@pytest.mark.parametrize("value", [[], ["INVOICE"], {}, {"a": 1}])
@pytest.mark.parametrize(("where", "key"), [("AdditionalDocuments", "TypeCode"), ("Events", "Scheme")])
def test_wco_code_given_as_list_or_object_is_a_document_error(where: str, key: str, value: object) -> None:
    import json

    doc = json.loads(VALID["wco.ecommerce.v1"])
    doc["Items"][0][where] = [{key: value}]
    with pytest.raises(DocumentError) as info:
        registry.decode("wco.ecommerce.v1", json.dumps(doc).encode())
    assert f"/Items/0/{where}/0/{key}" in [v.path for v in info.value.violations]


def test_non_bytes_input_is_a_document_error() -> None:
    with pytest.raises(AdapterError):
        registry.decode("upu.itmatt.v1", "<not bytes/>")  # type: ignore[arg-type]


def test_unknown_format() -> None:
    from adapters.errors import UnknownFormat

    with pytest.raises(UnknownFormat):
        registry.decode("upu.cn23.v1", b"")

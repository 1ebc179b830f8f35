"""gateway.codec: large documents are decoded and encoded in a worker process, with the same results and
the same errors as inline; small ones, and everything without a started pool, inline."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Iterator

import pytest

from adapters import registry
from adapters.errors import DocumentError, UnknownFormat
from gateway.codec import Codec
from gateway.testing.documents import aed_batch

ITMATT = registry.encode("upu.itmatt.v1", registry.AED, aed_batch(20))


@pytest.fixture(scope="module")
def codec() -> Iterator[Codec]:
    c = Codec(offload_bytes=len(ITMATT) // 2, processes=1)
    c.start()
    try:
        yield c
    finally:
        c.close()


def test_a_large_document_is_decoded_and_encoded_in_a_worker_process_as_inline(codec: Codec) -> None:
    document_type, doc = asyncio.run(codec.decode("upu.itmatt.v1", ITMATT))
    assert multiprocessing.active_children()  # the pool's worker process, spawned for this document
    assert (document_type, doc) == registry.decode("upu.itmatt.v1", ITMATT)
    payload = doc.SerializeToString(deterministic=True)
    for fmt in ("upu.itmatt.v1", "wco.ecommerce.v1", "swg.aed.v1+json", "swg.aed.v1"):
        assert asyncio.run(codec.encode(fmt, registry.AED, doc, payload)) == registry.encode(fmt, registry.AED, doc)


def test_errors_of_a_worker_process_arrive_whole(codec: Codec) -> None:
    bad = ITMATT.replace(b"RR123456785FR", b"RR123456786FR", 1)
    with pytest.raises(DocumentError) as inline:
        registry.decode("upu.itmatt.v1", bad)
    with pytest.raises(DocumentError) as offloaded:
        asyncio.run(codec.decode("upu.itmatt.v1", bad))
    assert offloaded.value.violations == inline.value.violations and "check digit" in str(offloaded.value)
    with pytest.raises(UnknownFormat, match="upu.itmatt.v9"):
        asyncio.run(codec.decode("upu.itmatt.v9", ITMATT))


def test_without_a_started_pool_everything_is_inline() -> None:
    codec = Codec(offload_bytes=0, processes=1)
    assert not codec.started
    assert asyncio.run(codec.decode("upu.itmatt.v1", ITMATT)) == registry.decode("upu.itmatt.v1", ITMATT)
    off = Codec(offload_bytes=0, processes=0)
    off.start()
    assert not off.started

"""`gateway deliveries` (dead letters, retry) and `gateway assist` against two real nodes, as an operator
and a customs officer use them from the command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from google.protobuf import json_format

from gateway.api.swg.v1 import assistance_pb2, exchange_pb2, item_pb2
from tests.support.db import replace_envelope, stored_envelope
from gateway.testing.documents import aed_batch
from gateway.testing.nodes import write_client_profile
from tests.support.two_nodes import TwoNodes, wait_for

ROOT = Path(__file__).resolve().parents[2]
FR_POST, DE_CUSTOMS, FR_CUSTOMS = "FR/POST/MAIN", "DE/CUSTOMS/MAIN", "FR/CUSTOMS/MAIN"
S = exchange_pb2


def gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)


def profile(nodes: TwoNodes, node: str, participant: str) -> str:
    return str(write_client_profile(nodes.fed, nodes.tmp, participant, nodes.runners[node].address,
                                    ("submit", "receive", "status", "assist", "admin"), node=node))


def state_of(client, message_id: str) -> int:  # type: ignore[no-untyped-def]
    st = client.exchange.GetStatus(S.GetStatusRequest(message_id=message_id), metadata=client.metadata, timeout=10)
    return st.recipients[0].state


def test_refused_relay_is_listed_as_dead_letter_and_retry_delivers_it_once_the_cause_is_gone(nodes: TwoNodes) -> None:
    post = nodes.client("fr-node", FR_POST)
    admin = profile(nodes, "fr-node", FR_POST)
    nodes.runners["de-node"].stop()
    batch = aed_batch(1, start=45000000)
    sent = post.exchange.Submit(S.SubmitRequest(format="swg.aed.v1", content=batch.SerializeToString()),
                                metadata=post.metadata, timeout=30)
    mid = sent.message_id
    # Someone with write access to fr-node's database damages the stored envelope while the peer is down;
    # de-node then refuses it for good (the signature no longer covers it).
    url = nodes.db_urls["fr-node"]
    original = stored_envelope(url, mid)
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0x01
    replace_envelope(url, mid, bytes(damaged))
    nodes.runners["de-node"].start()
    wait_for(lambda: state_of(post, mid) == S.DELIVERY_STATE_FAILED)

    listed = gateway("deliveries", "--client", admin, "--failed")
    assert listed.returncode == 0, listed.stderr
    [line] = [ln for ln in listed.stdout.splitlines() if ln.startswith(mid)]
    fields = line.split("\t")
    assert fields[1:3] == [DE_CUSTOMS, "FAILED"] and fields[4] == "route=de-node"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ.*", fields[5]), "updated at, ISO 8601"
    assert fields[6].startswith("refused by de-node:")
    assert gateway("deliveries", "--client", admin, "--expired").stdout.strip() == ""

    # The cause goes away (the operator restores the envelope from backup); retry puts it back in the queue.
    replace_envelope(url, mid, original)
    retried = gateway("deliveries", "--client", admin, "retry", mid)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.strip() == "requeued 1 delivery"
    wait_for(lambda: state_of(post, mid) == S.DELIVERY_STATE_DELIVERED)
    assert mid not in gateway("deliveries", "--client", admin, "--failed").stdout

    customs = nodes.client("de-node", DE_CUSTOMS)
    stream = customs.exchange.Receive(S.ReceiveRequest(format="swg.aed.v1"), metadata=customs.metadata, timeout=30)
    got = next(iter(stream))
    stream.cancel()
    assert got.message_id == mid and item_pb2.ItemBatch.FromString(got.content) == batch
    retried_events = [e for e in nodes.runners["fr-node"].node.store.audit_entries()
                      if e.event == "retried" and e.message_id == mid]
    assert len(retried_events) == 1


def test_assistance_request_pending_and_answer_through_the_cli(nodes: TwoNodes) -> None:
    fr, de = profile(nodes, "fr-node", FR_CUSTOMS), profile(nodes, "de-node", DE_CUSTOMS)
    request = assistance_pb2.AssistanceRequest(
        requesting_administration=FR_CUSTOMS, requested_administration=DE_CUSTOMS,
        agreement_reference="CMAA-DE-FR-2004", legal_basis="CMAA DE-FR art. 4",
        assistance_type=assistance_pb2.ASSISTANCE_TYPE_INFORMATION_ON_GOODS, information_category="goods",
        purpose="Verify the declared value of a held item",
        requesting_officer=assistance_pb2.Officer(name="Inspecteur Martin", officer_id="FR-4711"))
    request.deadline.FromSeconds(int(time.time()) + 86400)
    req_file = nodes.tmp / "request.json"
    req_file.write_text(json_format.MessageToJson(request))
    asked = gateway("assist", "request", "--client", fr, str(req_file))
    assert asked.returncode == 0, asked.stderr
    request_id, recipients, _ = asked.stdout.strip().split("\t")
    assert recipients == DE_CUSTOMS

    def pending(client: str, *flags: str) -> list[dict[str, str]]:
        out = gateway("assist", "pending", "--client", client, *flags)
        assert out.returncode == 0, out.stderr
        return [json.loads(ln) for ln in out.stdout.splitlines()]

    # The asked administration sees the case once the request has been relayed to its node.
    [case] = wait_for(lambda: pending(de))
    assert (case["request"], case["from"], case["to"], case["state"]) == (request_id, FR_CUSTOMS, DE_CUSTOMS, "open")
    assert case["agreement"] == "CMAA-DE-FR-2004"

    answer = assistance_pb2.AssistanceResponse(
        requesting_administration=FR_CUSTOMS, requested_administration=DE_CUSTOMS,
        agreement_reference="CMAA-DE-FR-2004", status=assistance_pb2.ASSISTANCE_STATUS_ANSWERED,
        answer="Invoice checked: value 25.00 EUR is plausible")
    ans_file = nodes.tmp / "answer.json"
    ans_file.write_text(json_format.MessageToJson(answer))
    answered = gateway("assist", "answer", "--client", de, "--in-reply-to", request_id, str(ans_file))
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.split("\t")[1] == FR_CUSTOMS

    assert pending(de) == []
    wait_for(lambda: [c["state"] for c in pending(fr, "--all")] == ["ANSWERED"])
    assert pending(fr) == []

"""`make demo`: two nodes of the example federation exchange AED, decisions, revenue and assistance.

Starts de-node and fr-node on loopback (examples/*.toml, certs-example/, databases in a temp dir), plays
the exchange with readable output, verifies every receipt, and stops both nodes. Exit 0 on success.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import structlog
from google.protobuf import json_format

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters import registry  # noqa: E402
from gateway import envelope
from gateway.federation import signature as directory_signature  # noqa: E402
from gateway.api.swg.v1 import (  # noqa: E402
    assistance_pb2,
    common_pb2,
    exchange_pb2,
    exchange_pb2_grpc,
    inspection_pb2,
    item_pb2,
    revenue_pb2,
)
from gateway.transport.auth import issue_token  # noqa: E402
from gateway.node import Node  # noqa: E402
from gateway.transport.server import GatewayServer, configure_logging  # noqa: E402
from gateway.crypto.trust import TrustStore  # noqa: E402

CERTS = ROOT / "certs-example"
S = exchange_pb2
WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10(serial: int, country: str) -> str:
    s = sum(int(d) * w for d, w in zip(f"{serial:08d}", WEIGHTS))
    c = 11 - s % 11
    return f"RR{serial:08d}{0 if c == 10 else 5 if c == 11 else c}{country}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


COLLECTED_BY = {
    revenue_pb2.COLLECTION_MODEL_VENDOR: "the seller collects and remits the tax (vendor model, e.g. IOSS)",
    revenue_pb2.COLLECTION_MODEL_INTERMEDIARY: "a platform or intermediary collects the tax",
    revenue_pb2.COLLECTION_MODEL_BUYER: "the buyer pays at import, through the post (buyer model)",
    revenue_pb2.COLLECTION_MODEL_HYBRID: "collection is shared (hybrid model)",
    revenue_pb2.COLLECTION_MODEL_UNSPECIFIED: "no collection model configured",
}


def de_minimis_in_words(n: Any) -> str:
    def money(m: Any) -> str:
        return f"{m.amount} {m.currency}"

    if n.duty_rule == "flat_per_subheading":
        duty = "a flat duty per tariff subheading, whatever the value (no duty de minimis)"
    elif n.duty_de_minimis_threshold.amount:
        duty = (f"value at or below the duty de minimis of {money(n.duty_de_minimis_threshold)}: no duty"
                if n.duty_de_minimis_applied else
                f"value above the duty de minimis of {money(n.duty_de_minimis_threshold)}: duty due")
    else:
        duty = "duty on every item (no duty de minimis)"
    if n.vat_de_minimis_threshold.amount and Decimal(n.vat_de_minimis_threshold.amount) > 0:
        vat = (f"at or below the VAT de minimis of {money(n.vat_de_minimis_threshold)}: no VAT at import"
               if n.vat_de_minimis_applied else f"above the VAT de minimis of {money(n.vat_de_minimis_threshold)}: VAT due")
    else:
        vat = "VAT from the first cent (no VAT de minimis)"
    return f"{duty}; {vat}"


def say(step: str, text: str) -> None:
    print(f"[{step:>10}] {text}", flush=True)


class Running:
    def __init__(self, config: Path):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def go() -> GatewayServer:
            server = GatewayServer(await asyncio.to_thread(Node.load, config))
            await server.start()
            return server

        self.server = asyncio.run_coroutine_threadsafe(go(), self.loop).result(60)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(2.0), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class App:
    """A participant's application: mTLS channel + bound token, as in examples/clients/."""

    def __init__(self, node: str, port: int, participant: str):
        slug = participant.lower().replace("/", "-")
        cert = (CERTS / "participants" / slug / "client.crt").read_bytes()
        creds = grpc.ssl_channel_credentials((CERTS / "ca" / "ca.crt").read_bytes(),
                                             (CERTS / "participants" / slug / "client.key").read_bytes(), cert)
        self.participant = participant
        self.channel = grpc.secure_channel(f"127.0.0.1:{port}", creds)
        self.stub = exchange_pb2_grpc.ExchangeStub(self.channel)
        token = issue_token(signing_key_pem=(CERTS / "nodes" / node / "token.key").read_bytes(),
                            issuer=f"swg:{node}", audience=f"swg:{node}", participant=participant,
                            scopes=["submit", "receive", "status", "assist"], client_cert_pem=cert)
        self.md = (("authorization", f"Bearer {token}"),)

    def submit(self, fmt: str, content: bytes, **kw: Any) -> S.SubmitResponse:
        return self.stub.Submit(S.SubmitRequest(format=fmt, content=content, **kw), metadata=self.md, timeout=30)

    def receive(self, count: int, fmt: str = "") -> list[S.Delivery]:
        got: list[S.Delivery] = []
        stream = self.stub.Receive(S.ReceiveRequest(format=fmt), metadata=self.md, timeout=30)
        for d in stream:
            got.append(d)
            if len(got) == count:
                break
        stream.cancel()
        self.stub.Acknowledge(S.AcknowledgeRequest(message_ids=[d.message_id for d in got]), metadata=self.md)
        return got

    def receipts(self, message_id: str, state: int, trust: TrustStore) -> list[str]:
        deadline = time.monotonic() + 30
        while True:
            st = self.stub.GetStatus(S.GetStatusRequest(message_id=message_id), metadata=self.md, timeout=10)
            if all(r.state == state for r in st.recipients) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        out = []
        for r in st.recipients:
            if r.state != state:
                raise SystemExit(f"{message_id} to {r.recipient}: {S.DeliveryState.Name(r.state)} {r.last_error}")
            for kind, rc in zip(("delivered", "acknowledged") if len(r.receipts) == 2 else ("acknowledged",),
                                r.receipts):
                v = envelope.verify_receipt(rc.jws, trust)
                out.append(f"{kind} by {v.recipient} at {v.issuing_node} (signature verified)")
        return out


def write_configs(tmp: Path, ports: dict[str, int]) -> dict[str, Path]:
    text = (ROOT / "examples" / "federation.toml").read_text().replace("../certs-example", str(CERTS))
    for node, default in (("de-node", 50051), ("fr-node", 50052)):
        text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{ports[node]}")
    # The ports differ from the committed directory's, so the demo plays the federation CA and signs its copy.
    data = text.encode()
    (tmp / "federation.toml").write_bytes(data)
    signer = envelope.Signer.from_files(CERTS / "ca" / "ca.key", CERTS / "ca" / "ca.crt")
    (tmp / "federation.toml.jws").write_text(directory_signature.sign(data, signer))
    out = {}
    for node in ports:
        cfg = (ROOT / "examples" / f"{node}.toml").read_text().replace("../certs-example", str(CERTS))
        cfg = cfg.replace('directory = "federation.toml"', f'directory = "{tmp / "federation.toml"}"')
        cfg = cfg.replace(f"sqlite:///../var/{node}.db", f"sqlite:///{tmp / (node + '.db')}")
        cfg = cfg.replace(f'listen = "127.0.0.1:{50051 if node == "de-node" else 50052}"',
                          f'listen = "127.0.0.1:{ports[node]}"')
        cfg += "\n[delivery]\npoll_interval_s = 0.1\nretry_initial_s = 0.2\nretry_max_s = 2.0\n"
        out[node] = tmp / f"{node}.toml"
        out[node].write_text(cfg)
    return out


def items() -> item_pb2.ItemBatch:
    batch = item_pb2.ItemBatch()
    for i, (what, value) in enumerate((("Wool scarf", "25.00"), ("Leather handbag", "180.00"),
                                       ("Perfume 50 ml", "60.00"))):
        it = batch.items.add(item_id=s10(31415920 + i, "FR"), origin_country="FR", destination_country="DE",
                             mail_category="A", mail_class="C", gross_weight_kg="0.500",
                             category=item_pb2.ITEM_CATEGORY_SALE_OF_GOODS,
                             declared_value=common_pb2.Money(amount=value, currency="EUR"))
        it.sender.CopyFrom(common_pb2.Party(name="Boutique Lumière", address=common_pb2.Address(
            line1="1 rue de la Paix", city="Paris", postcode="75002", country_code="FR")))
        it.addressee.CopyFrom(common_pb2.Party(name="Erika Mustermann", address=common_pb2.Address(
            line1="Heidestraße 17", city="Köln", postcode="51147", country_code="DE")))
        it.contents.add(index=1, quantity=1, description=what, hs_code="611710", net_weight_kg="0.400",
                        value=common_pb2.Money(amount=value, currency="EUR"), origin_country="FR")
    return batch


def main() -> int:
    started = time.monotonic()
    configure_logging("error")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    trust = TrustStore.from_files(CERTS / "ca" / "ca.crt", CERTS / "ca" / "crl.pem")
    with tempfile.TemporaryDirectory(prefix="swg-demo-") as tmpdir:
        tmp = Path(tmpdir)
        ports = {"de-node": free_port(), "fr-node": free_port()}
        configs = write_configs(tmp, ports)
        nodes = {n: Running(c) for n, c in configs.items()}
        say("nodes", f"de-node on 127.0.0.1:{ports['de-node']}, fr-node on 127.0.0.1:{ports['fr-node']}")
        apps = []
        try:
            fr_post = App("fr-node", ports["fr-node"], "FR/POST/MAIN")
            fr_customs = App("fr-node", ports["fr-node"], "FR/CUSTOMS/MAIN")
            de_customs = App("de-node", ports["de-node"], "DE/CUSTOMS/MAIN")
            de_tax = App("de-node", ports["de-node"], "DE/TAX/MAIN")
            apps = [fr_post, fr_customs, de_customs, de_tax]
            delivered, acked = S.DELIVERY_STATE_DELIVERED, S.DELIVERY_STATE_ACKNOWLEDGED

            batch = items()
            xml = registry.encode("upu.itmatt.v1", "swg.aed.v1", batch)
            aed = fr_post.submit("upu.itmatt.v1", xml)
            say("FR/POST", f"sent ITMATT AED for {len(batch.items)} items -> {', '.join(aed.recipients)} "
                           f"(message {aed.message_id})")
            [got] = de_customs.receive(1)
            say("DE/CUSTOMS", f"received {got.format} ({len(got.content)} bytes) from {got.sender}")
            say("receipt", "; ".join(fr_post.receipts(aed.message_id, acked, trust)))

            ids = [i.item_id for i in batch.items]
            decisions = inspection_pb2.InspectionResultBatch(batch_reference="ZOLL-2026-0001")
            decisions.results.add(item_id=ids[0], outcome=inspection_pb2.INSPECTION_OUTCOME_RELEASE)
            held = decisions.results.add(item_id=ids[1], outcome=inspection_pb2.INSPECTION_OUTCOME_HOLD_FOR_INSPECTION)
            held.reasons.add(code="VAL", text="Declared value to be verified")
            taxed = decisions.results.add(item_id=ids[2], outcome=inspection_pb2.INSPECTION_OUTCOME_DUTIES_ASSESSED,
                                          dutiable=True, total_fee=common_pb2.Money(amount="11.40", currency="EUR"))
            taxed.taxes.add(type="VAT", amount=common_pb2.Money(amount="11.40", currency="EUR"), rate="19")
            dec = de_customs.submit("swg.inspection.v1", decisions.SerializeToString(), in_reply_to=aed.message_id)
            say("DE/CUSTOMS", f"released {ids[0]}, held {ids[1]}, assessed VAT on {ids[2]} "
                              f"-> {', '.join(dec.recipients)}")
            for d in fr_post.receive(1):
                say("FR/POST", f"received {d.format} decisions from {d.sender}: "
                               f"{d.content.count(b'<cusrsp:Item>')} items")
            [tax_doc] = de_tax.receive(1, "swg.inspection.v1")
            [notice] = de_tax.receive(1, "swg.revenue.v1+json")
            rn = json_format.Parse(notice.content, registry.DOCUMENT_TYPES["swg.revenue.v1"]())
            n0 = rn.notices[0]
            say("DE/TAX", f"received revenue notice from {notice.sender}: item {n0.item_id}, "
                          f"due {n0.total_due.amount} {n0.total_due.currency}; {COLLECTED_BY[n0.collection_model]}")
            say("DE/TAX", "rule applied: " + de_minimis_in_words(n0))
            say("receipt", "; ".join(de_customs.receipts(dec.message_id, acked, trust)))

            req = assistance_pb2.AssistanceRequest(
                requesting_administration="FR/CUSTOMS/MAIN", requested_administration="DE/CUSTOMS/MAIN",
                agreement_reference="CMAA-DE-FR-2004", legal_basis="CMAA DE-FR, art. 4",
                assistance_type=assistance_pb2.ASSISTANCE_TYPE_INFORMATION_ON_GOODS, information_category="goods",
                purpose=f"Why was {ids[1]} held? The sender is under investigation in France.",
                requesting_officer=assistance_pb2.Officer(name="Inspecteur Martin", officer_id="FR-4711"))
            req.subjects.add(item_ids=[ids[1]])
            req.deadline.FromSeconds(int(time.time()) + 7 * 86400)
            asked = fr_customs.submit("swg.assistance.request.v1", req.SerializeToString())
            say("FR/CUSTOMS", f"asked {', '.join(asked.recipients)} under CMAA-DE-FR-2004 (message {asked.message_id})")
            [q] = de_customs.receive(1, "swg.assistance.request.v1")
            say("DE/CUSTOMS", f"received assistance request from {q.sender}")
            ans = assistance_pb2.AssistanceResponse(
                requesting_administration="FR/CUSTOMS/MAIN", requested_administration="DE/CUSTOMS/MAIN",
                agreement_reference="CMAA-DE-FR-2004", status=assistance_pb2.ASSISTANCE_STATUS_ANSWERED,
                answer="Held for value verification; invoice shows 180.00 EUR.")
            answered = de_customs.submit("swg.assistance.response.v1", ans.SerializeToString(),
                                         in_reply_to=asked.message_id)
            [a] = fr_customs.receive(1, "swg.assistance.response.v1")
            say("FR/CUSTOMS", f"received the answer from {a.sender} (in reply to {a.in_reply_to})")
            say("receipt", "; ".join(fr_customs.receipts(asked.message_id, acked, trust)))
            say("receipt", "; ".join(de_customs.receipts(answered.message_id, acked, trust)))
            del tax_doc, delivered
        finally:
            for app in apps:
                app.channel.close()
            for r in nodes.values():
                r.stop()
        say("done", f"both nodes stopped cleanly after {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

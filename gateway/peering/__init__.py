"""Node-to-node relay (swg.v1.Peering.Relay): store-and-forward of sealed envelopes between nodes.

Outbound, one ``PeerLink`` per peer node claims the deliveries routed to that node, in acceptance
order, and sends each envelope once per message over one bidi stream; the peer answers with signed
"delivered" receipts, and the deliveries become DELIVERED. "acknowledged" receipts issued here for
messages relayed in go back to their origin node through the same link (outbox ``peer_receipts``).

A link that cannot reach its peer (or whose peer answers with a passing error) retries with exponential
backoff and jitter, like AS4's PROGRESSIVE retry, for the whole link: deliveries are put back with the
link's next attempt time, so that after an outage they go out again in their original order. Permanent
refusals (bad signature, no access right, unknown recipient) make the deliveries FAILED with the reason.

Both directions pin the peer's TLS certificate to the one the directory names for that node (SHA-256 of
its DER), not merely to any certificate of the federation: inbound through the caller's certificate,
outbound by checking the certificate the peer presents before the stream is opened.

Modules: ``inbound`` (what a peer may relay), ``links`` (outbound), ``backoff``, ``receipts``, and
``channel``, the Protocol the transport implements (``gateway.transport.peer_channel``).

The relaying path never decrypts: only the node hosting a recipient opens the envelope, with that
recipient's key, to check the sender's access right and to learn the item ids it concerns.
"""


from gateway.peering.backoff import retry_delay
from gateway.peering.channel import PeerChannel, RelayStream
from gateway.peering.inbound import Inbound, InboundResult, check_peer
from gateway.peering.links import BATCH, PeerLink, PinMismatch, Relay

__all__ = ["BATCH", "Inbound", "InboundResult", "PeerChannel", "PeerLink", "PinMismatch", "Relay", "RelayStream",
           "check_peer", "retry_delay"]

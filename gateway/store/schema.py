"""Tables of a node's database. Times are integer microseconds since the Unix epoch (UTC), which sort,
compare and survive both SQLite and PostgreSQL without time-zone surprises.

Only sealed envelopes are stored: no column holds a plaintext payload. The few plaintext columns are
routing metadata (ids, participant ids, document type, S10 item ids) that every node on the path sees.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

messages = Table(
    "messages",
    metadata,
    Column("message_id", String(128), primary_key=True),
    Column("conversation_id", String(128), nullable=False, index=True),
    Column("in_reply_to", String(128), nullable=False, default=""),
    Column("sender", String(64), nullable=False),
    Column("document_type", String(64), nullable=False),
    # SHA-256 over what the submitter sent (format, content, recipients, ...): the idempotency check.
    Column("submit_sha256", LargeBinary(32), nullable=True),
    Column("envelope", LargeBinary, nullable=False),
    Column("envelope_sha256", LargeBinary(32), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("accepted_us", BigInteger, nullable=False, index=True),
    # "local" when submitted here, else the name of the peer node that relayed it.
    Column("origin", String(64), nullable=False, default="local"),
    # JSON object of routing attributes (never personal data), e.g. destination_country.
    Column("attributes", Text, nullable=False, default="{}"),
)

message_items = Table(
    "message_items",
    metadata,
    Column("item_id", String(16), primary_key=True),
    Column("message_id", String(128), ForeignKey("messages.message_id"), primary_key=True),
    Column("sender", String(64), nullable=False),
    Column("document_type", String(64), nullable=False),
    Column("accepted_us", BigInteger, nullable=False),
)

# Who an item belongs to at the participant it was declared to (an AED's recipient, i.e. a customs): the
# sender whose AED declared it there first. Only that sender may declare it there again (an update,
# audited "items_updated"); another sender's AED for it is refused, locally or relayed. ``message_id`` is
# the owner's latest AED for the item: what @item_sender routing and revenue notices read.
item_owners = Table(
    "item_owners",
    metadata,
    Column("item_id", String(16), primary_key=True),
    Column("declared_to", String(64), primary_key=True),
    Column("sender", String(64), nullable=False),
    Column("message_id", String(128), nullable=False),
    Column("declared_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

# A document split per recipient (a decision covering items of several posts): each part is a message of
# its own (own id, envelope, deliveries, receipts) holding only its recipient's entries; this links the
# parts to the message the sender submitted, whose status shows them.
message_parts = Table(
    "message_parts",
    metadata,
    Column("message_id", String(128), ForeignKey("messages.message_id"), primary_key=True),
    Column("part_id", String(128), ForeignKey("messages.message_id"), primary_key=True),
    Column("recipient", String(64), nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", String(128), ForeignKey("messages.message_id"), nullable=False),
    Column("recipient", String(64), nullable=False),
    # "local" for a participant hosted by this node, else the name of the node that hosts it.
    Column("route", String(64), nullable=False),
    Column("state", SmallInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_us", BigInteger, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_us", BigInteger, nullable=True),
    Column("last_error", Text, nullable=False, default=""),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("sender", String(64), nullable=False),
    Column("document_type", String(64), nullable=False),
    UniqueConstraint("message_id", "recipient"),
    # A recipient's work in id order: claims walk it and stop at their limit, whatever the queue's depth.
    Index("ix_deliveries_claim", "recipient", "state", "id"),
    Index("ix_deliveries_route_state", "route", "state", "id"),
    Index("ix_deliveries_state_expires", "state", "expires_us"),
)

receipts = Table(
    "receipts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", String(128), ForeignKey("messages.message_id"), nullable=False),
    Column("recipient", String(64), nullable=False),
    # "delivered" (the recipient's node took it over) or "acknowledged" (the application confirmed).
    Column("kind", String(16), nullable=False),
    Column("jws", Text, nullable=False),
    Column("envelope_sha256", LargeBinary(32), nullable=False),
    Column("issued_us", BigInteger, nullable=False),
    Column("issuing_node", String(64), nullable=False),
    UniqueConstraint("message_id", "recipient", "kind"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("at_us", BigInteger, nullable=False),
    Column("event", String(32), nullable=False),
    Column("message_id", String(128), nullable=False, default="", index=True),
    Column("actor", String(64), nullable=False, default=""),
    Column("subject", String(64), nullable=False, default=""),
    # Canonical JSON of the remaining metadata (digests, reasons, counts); never a payload.
    Column("detail", Text, nullable=False, default="{}"),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("entry_hash", LargeBinary(32), nullable=False),
)

# One row: the chain head. Appends update it in the same transaction, which serialises them across
# writers (row lock on PostgreSQL, the single writer on SQLite) and keeps the chain linear.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("entry_hash", LargeBinary(32), nullable=False),
)

# Every perfect subtree hash of the audit Merkle tree (gateway/store/audit_tree.py): node (level, idx) covers
# leaves [idx * 2^level, (idx + 1) * 2^level); written with the entries it completes.
audit_tree = Table(
    "audit_tree",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("head_hash", LargeBinary(32), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("node", String(64), nullable=False),
    Column("jws", Text, nullable=False),
    # The C2SP tlog-checkpoint signed note of the Merkle tree at ``seq`` entries (NULL before version 0005
    # and on a node without a log key).
    Column("note", Text, nullable=True),
)

# RFC 3161 stamps of signed checkpoints (gateway.evidence.timestamping): a row is queued when a checkpoint
# is stored and stamped when the TSA answers, so that a TSA outage queues stamps durably instead of
# halting anything. ``checkpoint`` names the checkpoint (its seq today); ``signed`` is the exact bytes its
# signature covers, which is what the TSA stamps (SHA-256 imprint). ``token`` is the TimeStampToken (DER).
checkpoint_stamps = Table(
    "checkpoint_stamps",
    metadata,
    Column("checkpoint", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("signed", LargeBinary, nullable=False),
    Column("queued_us", BigInteger, nullable=False),
    Column("stamped_us", BigInteger, nullable=True),
    Column("gen_time_us", BigInteger, nullable=True),
    Column("token", LargeBinary, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Index("ix_checkpoint_stamps_waiting", "stamped_us", "checkpoint"),
)

# Plaintext facts the FoS KPIs need but the sealed envelope hides from the node: one row per item
# of an accepted AED or inspection message. Item ids, times and decision category only; no
# personal data (docs/kpi.md).
kpi_items = Table(
    "kpi_items",
    metadata,
    Column("message_id", String(128), ForeignKey("messages.message_id"), primary_key=True),
    Column("item_id", String(16), primary_key=True),
    Column("document_type", String(64), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("accepted_us", BigInteger, nullable=False),
    # Inspection messages: released / held / do_not_load / seized / other; empty for AED.
    Column("outcome", String(16), nullable=False, default=""),
    # From the item's tracking events, when the document carries them (AED from IPS exports).
    Column("arrival_us", BigInteger, nullable=True),
    Column("departure_us", BigInteger, nullable=True),
    Index("ix_kpi_items_item", "item_id", "document_type"),
    Index("ix_kpi_items_accepted", "document_type", "accepted_us"),
)

# Receipts this node issued on acknowledge for messages that a peer node relayed in: an outbox, so that
# the "acknowledged" receipt reaches the sender's node even if that node is down when the ack happens.
peer_receipts = Table(
    "peer_receipts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("node", String(64), nullable=False),
    Column("message_id", String(128), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("jws", Text, nullable=False),
    Column("envelope_sha256", LargeBinary(32), nullable=False),
    Column("issued_us", BigInteger, nullable=False),
    Column("issuing_node", String(64), nullable=False),
    # 0 pending, 1 accepted by the peer.
    Column("sent", SmallInteger, nullable=False, default=0),
    UniqueConstraint("message_id", "recipient"),
    Index("ix_peer_receipts_node_sent", "node", "sent", "id"),
)

# Plaintext case metadata of mutual-assistance requests (the store holds only sealed envelopes, yet the
# deadline and answered state must be listable): ids, parties, agreement, deadline; never the question.
assistance_cases = Table(
    "assistance_cases",
    metadata,
    Column("request_message_id", String(128), primary_key=True),
    Column("conversation_id", String(128), nullable=False),
    Column("requesting_administration", String(64), nullable=False),
    Column("requested_administration", String(64), nullable=False),
    Column("agreement_reference", String(128), nullable=False),
    Column("requested_us", BigInteger, nullable=False),
    Column("deadline_us", BigInteger, nullable=False),
    Column("answer_message_id", String(128), nullable=False, default=""),
    Column("answered_us", BigInteger, nullable=True),
)

# The chain of archive files written by retention (gateway.evidence.archive): one row per file, in order.
# The database's copy of the chain head, so that a run can tell a file written before a crash (not yet
# recorded here) from one missing from the archive folder.
archives = Table(
    "archives",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False, unique=True),
    Column("sha256", LargeBinary(32), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("messages", Integer, nullable=False),
)

# Messages whose envelope was moved to an archive file: the ``messages`` row stays (dedup reads its submit
# digest, GetStatus its metadata, deliveries and receipts) with an empty envelope; this says where it went.
archived_messages = Table(
    "archived_messages",
    metadata,
    Column("message_id", String(128), ForeignKey("messages.message_id"), primary_key=True),
    Column("archive_seq", BigInteger, ForeignKey("archives.seq"), nullable=False, index=True),
    Column("archived_us", BigInteger, nullable=False),
)

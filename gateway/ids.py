"""The rules for the names the gateway hands around: participants, nodes, message and conversation ids.

One place, so a certificate, a directory entry and a submitted header cannot disagree about what a valid
name is. Every check is a full match: a trailing newline or NUL is not part of any name (``re.match`` with
``$`` would accept ``"DE/POST/X\\n"``).
"""

from __future__ import annotations

import re

#: ``CC/ROLE/CODE``: ISO country code, role, the agency's own code.
PARTICIPANT_ID = re.compile(r"[A-Z]{2}/[A-Z]+/[A-Z0-9_-]+")
#: A node name is a DNS label: it appears in certificates as ``<name>`` and in addresses.
NODE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
#: Client-chosen message and conversation ids (an UUID, an S10 id, an EDI reference...).
# What a refusal says, wherever a message id is checked (a local submit, Acknowledge, a relayed envelope).
MESSAGE_ID_RULE = "must be 1-128 characters of letters, digits and ._:@/+-, starting with a letter or digit"
MESSAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}")
#: ``host:port`` with a DNS name, an IPv4 address or a bracketed IPv6 address.
ADDRESS = re.compile(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}", re.ASCII)


def is_participant_id(value: str) -> bool:
    return PARTICIPANT_ID.fullmatch(value) is not None


def is_node_name(value: str) -> bool:
    return NODE_NAME.fullmatch(value) is not None


def is_message_id(value: str) -> bool:
    return MESSAGE_ID.fullmatch(value) is not None


def is_address(value: str) -> bool:
    return ADDRESS.fullmatch(value) is not None

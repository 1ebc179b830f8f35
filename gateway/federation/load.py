"""A node's configuration together with the directory it names: how they fit, and both checked at once.

Here rather than in gateway.config because the node settings sit below the federation: the settings
know nothing of the directory, the directory is checked against them.
"""

from __future__ import annotations

from pathlib import Path

from gateway.config.settings import NodeConfig, load_node_config
from gateway.errors import ConfigError, FieldViolation
from gateway.federation.model import Directory
from gateway.federation.signature import read_signed_directory


def fit(cfg: NodeConfig, directory: Directory) -> list[FieldViolation]:
    """How a node config and a directory disagree (the node and its participants must be where it says)."""
    problems: list[FieldViolation] = []
    if cfg.name not in directory.nodes:
        problems.append(FieldViolation("node.name", f"node {cfg.name!r} is not in the directory"))
    for i, p in enumerate(cfg.participants):
        entry = directory.participants.get(p.id)
        if entry is None:
            problems.append(FieldViolation(f"participants[{i}].id", f"{p.id} is not in the directory"))
        elif entry.node != cfg.name:
            problems.append(FieldViolation(f"participants[{i}].id",
                                           f"the directory says {p.id} is hosted by {entry.node}, not {cfg.name}"))
    return problems


def check(path: str | Path) -> tuple[NodeConfig, Directory]:
    """Validate a node config and the directory it names, including how they fit together."""
    cfg = load_node_config(path)
    directory = read_signed_directory(cfg)
    problems = fit(cfg, directory)
    if problems:
        raise ConfigError(problems)
    return cfg, directory

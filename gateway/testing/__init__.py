"""Builders for a throwaway federation and its nodes, for tests, the benchmark and the demo.

As temporalio ships ``temporalio.testing``: a federation PKI in a folder (``make_federation``), node configs and
a signed directory for it (``write_node_config``, ``write_directory``), an in-process node on a free port
(``NodeRunner``) and a client of it (``connect``), and small canonical documents (``aed_batch``, ``inspection``).
Never for production: keys are written unencrypted and certificates live a few days.
"""

from gateway.testing.documents import aed_batch, inspection, item, s10
from gateway.testing.federation import Federation, make_federation
from gateway.testing.nodes import (Client, NodeRunner, connect, free_port, load_node, write_directory,
                                   write_node_config)

__all__ = ["Client", "Federation", "NodeRunner", "aed_batch", "connect", "free_port", "inspection", "item", "load_node",
           "make_federation", "s10", "write_directory", "write_node_config"]

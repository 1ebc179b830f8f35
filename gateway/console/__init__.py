"""The operator web console: a separate process, a client of the node's Admin API over mTLS (docs/console.md).

``create_app`` builds the Starlette application; ``Users`` is the users file (argon2 hashes); ``NodeApi`` the
gRPC client it reads the node through.
"""

from gateway.console.app import create_app
from gateway.console.node_api import NodeApi
from gateway.console.users import ROLES, User, Users

__all__ = ["ROLES", "NodeApi", "User", "Users", "create_app"]

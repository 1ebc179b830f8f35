import sys
from pathlib import Path

import pytest

# Tests import shared helpers as ``tests.support``, whichever way pytest was started.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.pki import Federation, make_federation  # noqa: E402


@pytest.fixture(scope="session")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    """The example federation (2 nodes, 5 participants, ECDSA signers), built once per session."""
    return make_federation(tmp_path_factory.mktemp("federation"))

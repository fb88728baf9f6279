"""Fixtures of the transport tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def private_dfn_cache(tmp_path_factory):
    """Compiled DFN models go to a temporary cache folder, not the user's ~/.cache (use with
    ``pytestmark = pytest.mark.usefixtures("private_dfn_cache")``)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MICROSTRUCTURE_CACHE_DIR", str(tmp_path_factory.mktemp("dfn-cache")))
        yield

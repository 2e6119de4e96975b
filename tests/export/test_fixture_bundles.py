"""The committed bundles that tests/runtime reads are what s2s-export writes today."""

from __future__ import annotations

import pytest

from s2s_batch.runtime.bundle.manifest import REVISION, load_manifest
from tests.fixtures.make_bundles import BUNDLES, VARIANTS, variant_name


@pytest.mark.parametrize("variant", VARIANTS, ids=[variant_name(*v) for v in VARIANTS])
def test_committed_bundles_have_todays_layout(variant, bundle):
    committed = load_manifest(BUNDLES / variant_name(*variant))  # checks every sha256 too
    fresh = load_manifest(bundle(*variant))
    stale = "; rerun python tests/fixtures/make_bundles.py"
    assert committed.revision == fresh.revision == REVISION, stale
    assert committed.config == fresh.config, stale
    assert committed.graphs == fresh.graphs, stale
    # s2s-export adds other compute types' graphs only when asked; make_bundles asks for int8
    extra = {g.file for graphs, _ in committed.compute_types.values() for g in graphs.values()}
    assert set(committed.compute_types) == {"float32", "int8"}, stale
    assert sorted(set(committed.files) - extra) == sorted(fresh.files), stale
    assert committed.special_tokens == fresh.special_tokens, stale

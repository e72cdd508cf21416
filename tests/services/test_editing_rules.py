"""addAssetToScene's state rule as a plain function: inheritance from the LATEST source, or the
asset now, then a given override or tag list replacing the inherited one."""

from __future__ import annotations

from typing import Any

import pytest

from services.instances.edits import OMITTED, added_state

ASSET = {"asset_description": "Mara, as designed", "asset_version": 3, "asset_image": "https://img/asset.png"}
SOURCE = {
    "source_id": "src", "source_carry_forward": True, "source_override": "Mara, muddy",
    "source_image": "https://img/own.png", "source_tags": ["muddy"], "source_effective": "Mara, muddy",
    "source_base_version": 2, "source_base_description": "Mara, old design",
    "source_base_image": "https://img/old.png", "source_image_is_own": True,
}
NO_SOURCE = dict.fromkeys(SOURCE)
ASSET_NOW = {"override": None, "image": "https://img/asset.png", "tags": [], "carry_forward": True,
             "effective": "Mara, as designed", "base_version": 3, "base_description": "Mara, as designed",
             "base_image": "https://img/asset.png", "image_is_own": False}
COPIED = {"override": "Mara, muddy", "image": "https://img/own.png", "tags": ["muddy"], "carry_forward": True,
          "effective": "Mara, muddy", "base_version": 2, "base_description": "Mara, old design",
          "base_image": "https://img/old.png", "image_is_own": True}


@pytest.mark.parametrize(
    ("source", "latest", "override", "tags", "expected"),
    [
        (SOURCE, True, OMITTED, OMITTED, COPIED),
        (SOURCE, False, OMITTED, OMITTED, ASSET_NOW),
        (NO_SOURCE, True, OMITTED, OMITTED, ASSET_NOW),
        # carry_forward off at the source: reset to the asset now, and it stays off
        ({**SOURCE, "source_carry_forward": False}, True, OMITTED, OMITTED, {**ASSET_NOW, "carry_forward": False}),
        # a given override replaces the inherited one; None ("" after normalising) clears it
        (SOURCE, True, "Mara, washed", OMITTED, {**COPIED, "override": "Mara, washed", "effective": "Mara, washed"}),
        (SOURCE, True, None, OMITTED, {**COPIED, "override": None, "effective": "Mara, old design"}),
        (SOURCE, True, OMITTED, ["clean"], {**COPIED, "tags": ["clean"]}),
        (NO_SOURCE, False, "Mara, wet", [], {**ASSET_NOW, "override": "Mara, wet", "effective": "Mara, wet"}),
    ],
)
def test_added_state(source: dict[str, Any], latest: bool, override: Any, tags: Any, expected: dict[str, Any]) -> None:
    assert added_state({**ASSET, **source}, latest, override, tags) == expected

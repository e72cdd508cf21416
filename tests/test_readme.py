"""The README's walk-through runs as written, from an empty database (a fresh user), step by
step: each operation with its variables, the ids taken from the answers before."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support import REPO, Client

STEP = re.compile(r"```graphql\n(.*?)```\s*(?:```json\n(.*?)```)?", re.S)


def walkthrough() -> list[tuple[str, str, dict[str, Any]]]:
    text = (REPO / "README.md").read_text()
    section = text.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    steps = []
    for document, variables in STEP.findall(section):
        name = re.search(r"^(?:mutation|query) (\w+)", document, re.M)
        assert name, document
        steps.append((name.group(1), document, json.loads(variables) if variables else {}))
    return steps


def _by_name(instances: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(i for i in instances if i["projectAsset"]["name"] == name)


async def test_the_walkthrough_runs_as_written(alice: Client) -> None:
    steps = walkthrough()
    assert [s[0] for s in steps] == [
        "NewFilm", "Assets", "Lock", "Scenes", "BootstrapScene1", "MaraFalls", "InheritScene2", "MaraChanges",
        "InheritScene3", "History",
    ]
    ids: dict[str, str] = {}
    answers: dict[str, Any] = {}
    for name, document, variables in steps:
        filled = {key: ids[value] if value in ids else value for key, value in variables.items()}
        assert all(not str(v).startswith("<") for v in filled.values()), (name, filled)
        answers[name] = data = await alice.data(document, filled)
        if name == "NewFilm":
            ids["<branch id>"] = data["createProject"]["activeBranch"]["id"]
        elif name == "Scenes":
            ids.update({f"<scene {n} id>": data[f"s{n}"]["id"] for n in (1, 2, 3)})
        elif name == "BootstrapScene1":
            ids["<Mara's scene 1 instance id>"] = _by_name(data["inheritSceneAssets"]["instances"], "Mara")["id"]
        elif name == "InheritScene2":
            ids["<Mara's scene 2 instance id>"] = _by_name(data["inheritSceneAssets"]["instances"], "Mara")["id"]
    # What the comments promise.
    boot = answers["BootstrapScene1"]["inheritSceneAssets"]
    assert boot["source"] == "BOOTSTRAP" and boot["count"] == 3
    assert all(i["inheritedFrom"] is None for i in boot["instances"])
    assert answers["MaraFalls"]["updateSceneAssetInstance"] == {
        "effectiveDescription": "Mara, soaked and mud-covered", "statusTags": ["muddy", "torn_shirt"],
        "modificationCount": 1, "lastModifiedField": "description_override",
    }
    second = answers["InheritScene2"]["inheritSceneAssets"]
    assert second["source"] == "PRIOR_SCENE" and second["priorScene"] == {"sceneNumber": 1}
    mara2 = _by_name(second["instances"], "Mara")
    assert mara2["statusTags"] == ["muddy", "torn_shirt"]
    assert mara2["inheritedFrom"] == {"id": ids["<Mara's scene 1 instance id>"]}
    mara3 = _by_name(answers["InheritScene3"]["inheritSceneAssets"]["instances"], "Mara")
    assert mara3 == {"projectAsset": {"name": "Mara"}, "descriptionOverride": None, "statusTags": [],
                     "carryForward": False, "inheritedFrom": {"id": ids["<Mara's scene 2 instance id>"]}}
    chain = _by_name(answers["History"]["scene"]["assetInstances"], "Mara")["chain"]
    assert [link["scene"]["sceneNumber"] for link in chain] == [1, 2, 3]

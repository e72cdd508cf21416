from tests.support import Client
from tests.support.film import new_film


async def test_a_new_project_has_an_active_main_branch(alice: Client) -> None:
    film = await new_film(alice, "Smoke")
    data = await alice.data(
        "query($id: UUID!) { project(id: $id) { title activeBranch { id name project { id } } branches { name } createdAt } }",
        {"id": film.project_id},
    )
    project = data["project"]
    assert project["title"] == "Smoke"
    assert project["activeBranch"]["name"] == "main"
    assert project["branches"] == [{"name": "main"}]
    assert project["activeBranch"]["project"]["id"] == film.project_id

"""The pure parts of image jobs: prompts, storage paths, announcements, feeds, rendering."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from services.images.events import Gap, JobEvent, JobFeed, Position, job_state
from services.images.jobs import _is_news, scene_asset_prompt, scene_asset_storage_path
from services.images.providers import ImageRequest, load_factory, render_png
from services.images.storage import LocalStorage, checked_path


@pytest.mark.parametrize(
    ("description", "tags", "prompt"),
    [
        ("An old keeper", [], "An old keeper"),
        ("An old keeper", ["muddy"], "An old keeper\nStatus: muddy"),
        ("An old keeper", ["muddy", "torn_shirt"], "An old keeper\nStatus: muddy, torn_shirt"),
        ("", ["wet"], "\nStatus: wet"),
    ],
)
def test_scene_asset_prompt_is_the_description_then_the_tags(description: str, tags: list[str], prompt: str) -> None:
    assert scene_asset_prompt(description, tags) == prompt


def test_scene_asset_storage_path() -> None:
    p, b, s, a = (uuid.UUID(int=n) for n in (1, 2, 3, 4))
    assert scene_asset_storage_path(p, b, s, a, 1700000000123, "ab12cd34") == (
        f"project_{p}/branch_{b}/scene_{s}/scene-assets/{a}_1700000000123_ab12cd34.png"
    )


@pytest.mark.parametrize(
    "path",
    ["", "/etc/passwd", "../x.png", "a/../../x.png", "a/./x.png", "a//x.png", "a/.hidden", "a\\..\\x.png",
     "a/x.png/", "a/\x00.png", "a b/x.png", "x" * 1025],
)
def test_storage_paths_that_could_escape_are_refused(path: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        checked_path(path)
    with pytest.raises(ValueError):
        LocalStorage(tmp_path, "http://x").file_for(path)


def test_local_storage_writes_under_its_root_and_builds_the_url(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media", "http://cdn.example:8000/")
    url = asyncio.run(storage.save("project_1/scene-assets/a_1_b.png", b"png", "image/png"))
    assert url == "http://cdn.example:8000/media/project_1/scene-assets/a_1_b.png"
    assert (tmp_path / "media" / "project_1" / "scene-assets" / "a_1_b.png").read_bytes() == b"png"
    assert not list((tmp_path / "media" / "project_1" / "scene-assets").glob(".incoming-*"))


def test_local_storage_refuses_a_symlinked_directory_that_leaves_the_root(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "media" / "project_1").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError):
        LocalStorage(tmp_path / "media", "http://x").file_for("project_1/x.png")


@pytest.mark.parametrize(("width", "height"), [(512, 768), (1024, 576), (512, 512), (1280, 720), (16, 16)])
def test_the_default_provider_renders_a_png_of_the_requested_size(width: int, height: int) -> None:
    request = ImageRequest(job_id=uuid.uuid4(), job_type="scene_asset", prompt="A keeper\nStatus: wet " * 40,
                           width=width, height=height, title="Mara")
    image = Image.open(io.BytesIO(render_png(request)))
    assert (image.format, image.size) == ("PNG", (width, height))


def test_the_prompt_decides_the_colour() -> None:
    def corner(prompt: str) -> object:
        request = ImageRequest(job_id=uuid.uuid4(), job_type="scene_asset", prompt=prompt, width=64, height=64, title="")
        return Image.open(io.BytesIO(render_png(request))).getpixel((63, 30))

    assert corner("a red door") == corner("a red door") != corner("a blue door")


def test_load_factory_reads_module_and_attribute() -> None:
    assert load_factory("services.images.providers:LocalProvider").__name__ == "LocalProvider"
    for bad in ("services.images.providers", ":LocalProvider", "services.images.providers:"):
        with pytest.raises(ValueError):
            load_factory(bad)


def _state(**overrides: object) -> str:
    job = {"id": str(uuid.uuid4()), "project_id": str(uuid.uuid4()), "status": "processing",
           "updated_at": "2026-11-22T10:00:00.123456+00:00", "completed_at": None, "attempts": 1}
    job.update(overrides)
    return json.dumps(job)


def _event(n: int, **overrides: object) -> JobEvent:
    return JobEvent.from_row({"xid": 100, "seq": n, "status": "processing",
                              "at": datetime(2026, 1, 1, tzinfo=UTC), "state": _state(**overrides)})


def test_stored_states_parse_into_typed_rows() -> None:
    state = job_state(_state(scene_id=str(uuid.UUID(int=7)), next_attempt_at="2026-11-22T10:00:05+00:00"))
    assert state["status"] == "processing" and isinstance(state["id"], uuid.UUID)
    assert state["scene_id"] == uuid.UUID(int=7) and state["completed_at"] is None
    assert state["updated_at"] == datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)
    assert state["next_attempt_at"] == datetime(2026, 11, 22, 10, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize("position", [Position(0, 0), Position(1, 1), Position(2**62, 12345)])
def test_a_cursor_decodes_to_its_position(position: Position) -> None:
    assert Position.decode(position.encode()) == position


@pytest.mark.parametrize("cursor", [
    "", "x", "====", "jobevents:1:2", Position(1, 2).encode() + "=", Position(1, 2).encode() + "A",
    base64.urlsafe_b64encode(b"jobevents:01:2").decode(), base64.urlsafe_b64encode(b"jobevents:-1:2").decode(),
    base64.urlsafe_b64encode(b"jobevents:1:2:3").decode(), base64.urlsafe_b64encode(b"other:1:2").decode(),
    base64.urlsafe_b64encode(b"jobevents:99999999999999999999:2").decode(), "a" * 101,
    Position(1, 2**63).encode(), Position(2**63, 1).encode(),
])
def test_anything_else_is_not_a_cursor(cursor: str) -> None:
    with pytest.raises(ValueError):
        Position.decode(cursor)


def test_positions_order_by_transaction_then_sequence() -> None:
    assert Position(1, 9) < Position(2, 1) < Position(2, 2)
    assert sorted([Position(3, 1), Position(1, 5), Position(3, 0)]) == [Position(1, 5), Position(3, 0), Position(3, 1)]


def test_a_feed_that_overflows_keeps_a_gap_from_its_oldest_unread_change() -> None:
    async def run() -> list[object]:
        feed = JobFeed(lambda e: True, maxsize=3)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for n in range(5):
            feed.offer(_event(n, updated_at=(start + timedelta(seconds=n)).isoformat()))
        return [await feed.get(), *feed.drain()]

    items = asyncio.run(run())
    assert items[0] == Gap(datetime(2026, 1, 1, tzinfo=UTC))
    assert len(items) == 2 and isinstance(items[1], JobEvent)


@pytest.mark.parametrize(
    ("candidate", "last", "announced", "news"),
    [
        ((2, "processing", 1), None, True, True),
        ((2, "processing", 1), (1, "queued", 0), True, True),
        ((1, "processing", 1), (1, "processing", 1), True, False),  # already sent
        ((0, "queued", 0), (1, "processing", 1), True, False),  # older than what was sent
        ((3, "processing", 1), (2, "processing", 1), False, False),  # a re-read of the same state
        ((3, "processing", 2), (2, "processing", 1), False, True),  # re-read: another attempt
        ((3, "completed", 1), (2, "processing", 1), False, True),
    ],
)
def test_what_counts_as_news(candidate: tuple[int, str, int], last: tuple[int, str, int] | None,
                             announced: bool, news: bool) -> None:
    def row(t: tuple[int, str, int] | None) -> dict[str, object] | None:
        if t is None:
            return None
        return {"updated_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=t[0]), "status": t[1], "attempts": t[2]}

    assert _is_news(row(candidate), row(last), announced) is news

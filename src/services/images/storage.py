"""Where generated images go, and the URL a browser fetches them from.

The default keeps them under `CONTINUITY_MEDIA_DIR`, which the app serves at `/media/`;
an object store plugs in through `CONTINUITY_IMAGE_STORAGE=module:factory` (docs/images.md).
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import quote

from services.images.providers import load_factory

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@runtime_checkable
class ImageStorage(Protocol):
    async def save(self, path: str, data: bytes, content_type: str) -> str:
        """Stores the bytes under the relative `path`; returns the absolute URL to fetch them."""
        ...


def checked_path(path: str) -> str:
    """A storage path is relative, `/`-separated, and each segment is a plain name: nothing
    a path could escape its root with (`..`, absolute, backslashes, hidden or empty parts)."""
    segments = path.split("/")
    if not path or len(path) > 1024 or not all(_SEGMENT.match(s) and s not in {".", ".."} for s in segments):
        raise ValueError(f"refused storage path {path!r}")
    return path


class LocalStorage:
    """Files under one directory, served by the app at `{public_url}/media/{path}`."""

    def __init__(self, media_dir: Path, public_url: str) -> None:
        self.root = Path(media_dir).resolve()
        self.public_url = public_url.rstrip("/")

    def url_for(self, path: str) -> str:
        return f"{self.public_url}/media/{quote(checked_path(path))}"

    def file_for(self, path: str) -> Path:
        target = (self.root / checked_path(path)).resolve()
        if not target.is_relative_to(self.root):
            raise ValueError(f"refused storage path {path!r}: it leaves the media directory")
        return target

    async def save(self, path: str, data: bytes, content_type: str) -> str:
        target = self.file_for(path)
        await asyncio.to_thread(_write_atomically, target, data)
        return self.url_for(path)


def _write_atomically(target: Path, data: bytes) -> None:
    """A reader never sees half a file, and a retry that writes the same path replaces it whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def storage_from_settings(media_dir: Path, public_url: str, spec: str | None) -> ImageStorage:
    if not spec:
        return LocalStorage(media_dir, public_url)
    storage = load_factory(spec)()
    if not isinstance(storage, ImageStorage):
        raise TypeError(f"{spec} made {storage!r}, which has no async save(path, data, content_type)")
    return storage

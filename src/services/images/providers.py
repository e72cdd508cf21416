"""Image providers: what turns a job's prompt into PNG bytes.

The default renders a real PNG of the requested size locally (the asset's name, the prompt,
a colour derived from the prompt), so the whole flow works offline. A hosted model plugs in
through `CONTINUITY_IMAGE_PROVIDER=module:factory` (docs/images.md).
"""

from __future__ import annotations

import asyncio
import colorsys
import hashlib
import importlib
import io
import textwrap
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from PIL import Image, ImageDraw, ImageFont


@dataclass(frozen=True)
class ImageRequest:
    job_id: uuid.UUID
    job_type: str  # 'scene_asset', 'start_frame', ... (lower case, as stored)
    prompt: str
    width: int
    height: int
    # What the image shows, for people: the asset's name, else the kind of job.
    title: str
    visual_style_capsule_id: str | None = None
    # Stored reference lists: dicts with position, asset_name, asset_type, image_url, ...
    reference_images: list[dict[str, Any]] = field(default_factory=list)
    attempt: int = 1


@runtime_checkable
class ImageProvider(Protocol):
    async def generate(self, request: ImageRequest) -> bytes:
        """PNG bytes of `request.width` x `request.height`. Raising fails this attempt; the
        exception's text becomes the job's error."""
        ...


class LocalProvider:
    """Draws the image with Pillow, in a thread so the event loop keeps serving."""

    async def generate(self, request: ImageRequest) -> bytes:
        return await asyncio.to_thread(render_png, request)


def prompt_colour(prompt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(prompt.encode()).digest()
    hue = int.from_bytes(digest[:2], "big") / 65535
    r, g, b = colorsys.hls_to_rgb(hue, 0.35 + digest[2] / 255 * 0.2, 0.45 + digest[3] / 255 * 0.3)
    return int(r * 255), int(g * 255), int(b * 255)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # Pillow built without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def render_png(request: ImageRequest) -> bytes:
    width, height = request.width, request.height
    background = prompt_colour(request.prompt)
    ink = (255, 255, 255) if sum(background) < 384 else (20, 20, 20)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    margin = max(8, width // 24)
    title_size = max(12, min(width, height) // 12)
    body_size = max(10, title_size // 2)
    draw.text((margin, margin), request.title, fill=ink, font=_font(title_size))
    columns = max(10, int((width - 2 * margin) / (body_size * 0.55)))
    lines: list[str] = []
    for paragraph in request.prompt.splitlines() or [""]:
        lines.extend(textwrap.wrap(paragraph, columns) or [""])
    top = margin + title_size * 2
    room = max(0, (height - top - margin - body_size * 2) // int(body_size * 1.3))
    body = "\n".join(lines[:room] + (["…"] if len(lines) > room else []))
    draw.multiline_text((margin, top), body, fill=ink, font=_font(body_size), spacing=body_size // 3)
    footer = f"{width}x{height} · {request.job_type} · job {str(request.job_id)[:8]}"
    draw.text((margin, height - margin - body_size), footer, fill=ink, font=_font(body_size))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def load_factory(spec: str) -> Any:
    """`package.module:attribute` -> the attribute (a class or a factory function)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected module:attribute, got {spec!r}")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def provider_from_settings(spec: str | None) -> ImageProvider:
    if not spec:
        return LocalProvider()
    provider = load_factory(spec)()
    if not isinstance(provider, ImageProvider):
        raise TypeError(f"{spec} made {provider!r}, which has no async generate(request)")
    return provider

"""Presence-aware prompts of a scene's shots (Stage 9), written by a pluggable PromptWriter.

The default writer is a deterministic template that needs no network. Another writer (an LLM,
say) plugs in through `CONTINUITY_PROMPT_WRITER=package.module:factory`, or by setting
`AppState.prompt_writer` when embedding the app; see docs/casting.md (Prompts).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from services.casting.frames import Casting, FrameReferences


@dataclass(frozen=True)
class ShotBrief:
    """What a writer is told about one shot: the shot as written and its frame references."""

    shot_id: uuid.UUID
    shot_label: str
    shot_order: int
    duration_seconds: int
    setting: str | None
    action: str | None
    camera: str | None
    frames: FrameReferences


@dataclass(frozen=True)
class ShotPrompts:
    frame_prompt: str
    video_prompt: str


@runtime_checkable
class PromptWriter(Protocol):
    """Writes the prompts of every shot of one scene, in the order given (one call per scene,
    so a writer backed by a model can batch or parallelise as it likes)."""

    async def write(self, shots: Sequence[ShotBrief]) -> list[ShotPrompts]: ...


def asset_line(casting: Casting) -> str:
    """One start-frame asset in a frame prompt: name, type, effective description, tags."""
    asset = casting.asset
    line = f"{asset.name} ({asset.asset_type}): {asset.effective_description}"
    if asset.status_tags:
        line += f" [status: {', '.join(asset.status_tags)}]"
    return line


def _written(*parts: str | None) -> list[str]:
    return [p for p in parts if p and p.strip()]


def template_frame_prompt(shot: ShotBrief) -> str:
    """The shot's setting, action and camera as written, then one line per start-frame asset."""
    lines = _written(shot.setting, shot.action, shot.camera)
    lines.extend(asset_line(c) for c in shot.frames.start_assets)
    return "\n".join(lines)


def template_video_prompt(shot: ShotBrief) -> str:
    """The shot's action and camera, then every presence direction verbatim."""
    return "\n".join([*_written(shot.action, shot.camera), *shot.frames.directions])


class TemplatePromptWriter:
    """The deterministic default: the same input always gives the same prompts."""

    async def write(self, shots: Sequence[ShotBrief]) -> list[ShotPrompts]:
        return [ShotPrompts(template_frame_prompt(s), template_video_prompt(s)) for s in shots]


def load_writer(spec: str | None) -> PromptWriter:
    """The writer named by `module:factory` (a class or a function returning a writer), else
    the template."""
    if not spec:
        return TemplatePromptWriter()
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"CONTINUITY_PROMPT_WRITER must look like package.module:factory, not {spec!r}")
    writer = getattr(importlib.import_module(module_name), attribute)()
    if not isinstance(writer, PromptWriter):
        raise TypeError(f"{spec} did not make a PromptWriter (an object with async write(shots))")
    return writer


async def write_prompts(writer: PromptWriter, shots: Sequence[ShotBrief]) -> list[ShotPrompts]:
    """Runs the writer and checks it answered every shot once."""
    if not shots:
        return []
    written = list(await writer.write(shots))
    if len(written) != len(shots):
        raise RuntimeError(f"the prompt writer answered {len(written)} shots, not {len(shots)}")
    return written

"""Image providers for worker tests, chosen with CONTINUITY_IMAGE_PROVIDER=tests.support.providers:Name."""

from __future__ import annotations

import asyncio
import os

from services.images.providers import ImageRequest, LocalProvider


class SlowProvider:
    """Takes CONTINUITY_TEST_PROVIDER_SECONDS (default 120) per image: long enough to kill its worker mid-job."""

    async def generate(self, request: ImageRequest) -> bytes:
        await asyncio.sleep(float(os.environ.get("CONTINUITY_TEST_PROVIDER_SECONDS", "120")))
        return await LocalProvider().generate(request)


class FailingProvider:
    async def generate(self, request: ImageRequest) -> bytes:
        raise RuntimeError(f"the model ran out of ink (attempt {request.attempt})")


class RecordingProvider:
    """Appends "{pid} {job id}" to CONTINUITY_TEST_RENDER_LOG for every image it renders."""

    async def generate(self, request: ImageRequest) -> bytes:
        line = f"{os.getpid()} {request.job_id}\n".encode()
        fd = os.open(os.environ["CONTINUITY_TEST_RENDER_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return await LocalProvider().generate(request)

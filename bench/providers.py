"""Image providers for the soak run (`CONTINUITY_IMAGE_PROVIDER=bench.providers:FlakyProvider`)."""

from __future__ import annotations

import hashlib

from services.images.providers import ImageRequest, LocalProvider


class FlakyProvider:
    """Fails the first attempt of every third job (by its id), like a provider that drops
    requests now and then: the job comes back after its backoff and completes."""

    async def generate(self, request: ImageRequest) -> bytes:
        if request.attempt == 1 and flaky(str(request.job_id)):
            raise RuntimeError("the provider dropped the request (first attempt of every third job)")
        return await LocalProvider().generate(request)


def flaky(job_id: str) -> bool:
    return int(hashlib.sha256(job_id.encode()).hexdigest(), 16) % 3 == 0

"""The sandbox images jobs may name, with what each contains."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from jobyard_store import ImageRegistry, SandboxImage


@get("/v1/images", tags=["images"])
async def list_images(images: NamedDependency[ImageRegistry]) -> list[SandboxImage]:
    """Images offered by at least one Docker host, with their manifests."""
    return await images.available()


@get("/v1/images/{name:str}", tags=["images"])
async def get_image(name: FromPath[str], images: NamedDependency[ImageRegistry]) -> SandboxImage:
    image = await images.get(name)
    if image is None:
        raise NotFoundException(f"image {name} not found")
    return image

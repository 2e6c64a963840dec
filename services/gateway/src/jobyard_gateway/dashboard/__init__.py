"""The web dashboard: server-rendered pages (Jinja) under `/dashboard`, live through the /v1
WebSocket feeds, changing things through the /v1 API; its scripts and styles are served from
`/dashboard/static` (nothing from a CDN)."""

from __future__ import annotations

from pathlib import Path

from litestar import Router, get
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

from jobyard_gateway.dashboard import pages
from jobyard_gateway.dashboard.access import (
    HOME,
    create_sign_in_link,
    current_viewer,
    require_viewer,
    sign_in,
    sign_in_page,
    sign_in_with_link,
    sign_out,
)
from jobyard_gateway.dashboard.presenters import duration, file_size

HERE = Path(__file__).parent


def _filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update(file_size=file_size, duration=duration)


template_config = TemplateConfig(
    directory=HERE / "templates", engine=JinjaTemplateEngine, engine_callback=_filters
)


@get(["/", "/dashboard"], include_in_schema=False)
async def home() -> Redirect:
    return Redirect(HOME, status_code=HTTP_303_SEE_OTHER)


pages_router = Router(
    path="/",
    route_handlers=[
        pages.jobs_page,
        pages.new_job_page,
        pages.job_page,
        pages.step_log,
        pages.files_page,
        pages.download_file,
        pages.notifications_page,
    ],
    before_request=require_viewer,
    dependencies={"viewer": Provide(current_viewer, sync_to_thread=False)},
)

dashboard = Router(
    path="/dashboard",
    route_handlers=[
        pages_router,
        sign_in_page,
        sign_in,
        sign_in_with_link,
        sign_out,
        create_static_files_router(path="/static", directories=[HERE / "static"]),
    ],
    include_in_schema=False,
)

route_handlers: list[ControllerRouterHandler] = [home, dashboard, create_sign_in_link]
"""What the gateway's app mounts."""

"""The FastAPI shell every service shares: lifespan, health, readiness, metrics, limits, problems."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import PipelineMetrics
from shared.problems import install_problem_handlers, problem_response
from shared.runtime import ServiceRuntime

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
SWAGGER_UI_ASSETS = Path(__file__).resolve().parent / "static" / "swagger-ui-5.35.0"
"""Swagger UI from the npm package swagger-ui-dist 5.35.0 (Apache-2.0): /docs works with no outside host."""
DOCS_ASSETS_URL = "/docs-assets"


class BodySizeLimit:
    """Rejects request bodies over max_bytes with 413 problem+json, declared or streamed."""

    def __init__(
        self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES, overrides: list[tuple[str, int]] | None = None
    ) -> None:
        self.app = app
        self.default_max = max_bytes
        self.overrides = [(re.compile(pattern), limit) for pattern, limit in overrides or []]

    def limit_for(self, path: str) -> int:
        """Return the body limit for a path: the first matching override, else the default."""
        for pattern, limit in self.overrides:
            if pattern.match(path):
                return limit
        return self.default_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._reject(scope, receive, send, max_bytes)
            return
        seen = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if not too_large:  # the app may turn our exception into its own error response: ours wins
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            pass
        if too_large:
            await self._reject(scope, receive, send, max_bytes)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = problem_response(
            413, "Body too large", f"request bodies are limited to {max_bytes} bytes", instance=scope.get("path")
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """Return the metrics label of an HTTP method: a known method, or `other` (clients choose any token)."""
    return method if method in KNOWN_METHODS else "other"


class RequestMetrics:
    """Counts requests and observes latency by route template and known method (never the raw path or token)."""

    def __init__(self, app: ASGIApp, metrics: PipelineMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = method_label(scope.get("method", "GET"))
            self.metrics.http_requests.labels(template, method, str(status)).inc()
            self.metrics.http_duration.labels(template, method).observe(time.perf_counter() - started)


def install_local_docs(app: FastAPI, title: str) -> None:
    """Serve Swagger UI at /docs from assets shipped in the package: no CDN, no request to an outside host."""
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=SWAGGER_UI_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{title} - docs",
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},  # the default validator is an outside host
        )


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str = "",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_limits: list[tuple[str, int]] | None = None,
) -> FastAPI:
    """Return a FastAPI app that starts and stops the runtime and serves /healthz, /readyz, /metrics."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    install_problem_handlers(app)
    install_local_docs(app, title)

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @app.get("/readyz", tags=["operations"], summary="Readiness: broker and database reachable")
    async def readyz() -> Response:
        checks = await runtime.readiness()
        ready = all(value == "ok" for value in checks.values())
        if ready:
            return JSONResponse({"status": "ready", "checks": checks})
        return problem_response(503, "Not ready", f"dependencies not reachable: {checks}", checks=checks)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(runtime.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(RequestMetrics, metrics=runtime.metrics)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, overrides=body_limits)
    return app

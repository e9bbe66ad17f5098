"""``/healthz``, ``/readyz`` and ``/metrics`` over HTTP (aiohttp).

:func:`probe_routes` are served by :class:`HealthServer` on ``HTTP_HOST:HTTP_PORT``, and
added to the Slack adapter's own server in HTTP mode, so the same paths answer on
``SLACK_PORT`` too.
"""

from __future__ import annotations

import logging
import os

from aiohttp import web

from bot.errors import ConfigError
from bot.observability.metrics import CONTENT_TYPE
from bot.observability.probes import Probes

__all__ = ["HEALTH_PATH", "METRICS_PATH", "READY_PATH", "HealthServer", "probe_routes"]

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"


def probe_routes(probes: Probes) -> list[web.RouteDef]:
    """The three paths, for any aiohttp application (GET, and HEAD)."""

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(request: web.Request) -> web.Response:
        readiness = await probes.readiness()
        return web.json_response(readiness.to_dict(), status=200 if readiness.ready else 503)

    async def metrics(request: web.Request) -> web.Response:
        body = await probes.metrics_text()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return [
        web.get(HEALTH_PATH, healthz),
        web.get(READY_PATH, readyz),
        web.get(METRICS_PATH, metrics),
    ]


class HealthServer:
    """Serves :func:`probe_routes` on one address: ``await start()``, then ``stop()``."""

    def __init__(self, probes: Probes, *, host: str, port: int) -> None:
        self._probes = probes
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        """The port listened on, once started."""

    async def start(self) -> None:
        """Listen; a port that cannot be had is a :class:`~bot.errors.ConfigError`."""
        app = web.Application()
        app.router.add_routes(probe_routes(self._probes))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError as error:
            await runner.cleanup()
            # aiohttp wraps the errno's text in a long sentence; say just the errno's.
            code = error.errno or 0
            reason = os.strerror(code) if code > 0 else str(error)
            raise ConfigError(
                f"the health and metrics server cannot listen on {self._host}:{self._port} "
                f"({reason}); check HTTP_HOST, or set HTTP_PORT to a free port (0 turns it off)"
            ) from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info(
            "health and metrics on http://%s:%s (%s, %s, %s)",
            self._host,
            self.port,
            HEALTH_PATH,
            READY_PATH,
            METRICS_PATH,
        )

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

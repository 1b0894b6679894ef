"""Composition root of the call-control app: builds every object and runs the dispatcher."""

from __future__ import annotations

import asyncio
import logging

from pbx_ext.app.service import CallControl, SiteSource
from pbx_ext.ari import AriClient, EventStream
from pbx_ext.deployment import Deployment
from pbx_ext.history import CallHistory
from pbx_ext.secrets import SecretStore

log = logging.getLogger(__name__)

APPLIED_SITE = "site.yaml"  # the copy of the site file last applied, in the state dir
HISTORY_DB = "calls.sqlite3"


async def run_app(deployment: Deployment, stop: asyncio.Event) -> None:
    """Serve calls until ``stop`` is set. Reconnects by itself when Asterisk goes away."""
    creds = SecretStore(deployment.state_dir).ensure([])
    sites = SiteSource(deployment.state_dir / APPLIED_SITE)
    sites.current()  # fail now, with the file's problems, rather than at the first call
    with CallHistory(deployment.state_dir / HISTORY_DB) as history:
        async with (
            AriClient(
                deployment.ari_url,
                creds.ari_user,
                creds.ari_password,
                deployment.app,
                rest_over_websocket=True,
            ) as ari,
            EventStream(
                deployment.ari_url, creds.ari_user, creds.ari_password, deployment.app
            ) as events,
        ):
            control = CallControl(ari, events, sites, history)
            serve = asyncio.create_task(control.run(), name="call-control")
            waiter = asyncio.create_task(stop.wait(), name="stop")
            try:
                done, _ = await asyncio.wait({serve, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (serve, waiter):
                    task.cancel()
                await asyncio.gather(serve, waiter, return_exceptions=True)
            if serve in done:
                serve.result()  # the dispatcher ended by itself: raise what ended it

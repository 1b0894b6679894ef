"""Fixtures that start real Asterisk sandboxes. They fail (never skip) when the sandbox is
missing: a functional test that did not run proved nothing."""

from __future__ import annotations

import asyncio
import os
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import SITES, App, Pbx, free_ports

pytestmark = pytest.mark.functional


def write_site(directory: Path, trunk_port: int, template: str = "office.yaml.in") -> Path:
    text = string.Template((SITES / template).read_text()).substitute(trunk_port=trunk_port)
    path = directory / "office.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def trunk_port() -> int:
    return free_ports(1)[0]


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory, trunk_port: int) -> Iterator[Pbx]:
    if os.geteuid() != 0:
        raise RuntimeError("functional tests need root (chroot into the Asterisk sandbox)")
    tmp = tmp_path_factory.mktemp("pbx")
    site = write_site(tmp, trunk_port)
    running = Pbx.start(site, tmp, name=f"t{os.getpid()}-{tmp.name}")
    try:
        yield running
    finally:
        running.remove()


@pytest.fixture(scope="module")
def app(pbx: Pbx) -> Iterator[App]:
    """The call-control app connected to this module's Asterisk."""
    running = App(pbx)
    running.start()
    try:
        asyncio.run(running.wait_connected())
        yield running
    finally:
        running.stop()

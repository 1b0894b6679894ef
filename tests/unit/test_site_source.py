"""The app's view of the applied site: reloaded on change, a bad edit never takes calls down."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pbx_ext.app.service import SiteSource
from pbx_ext.errors import SiteError

SITE = """
site: {name: T, domain: pbx.test, timezone: UTC}
users:
  - {extension: "1001", name: Ann}
"""


def touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_reloads_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(SITE)
    source = SiteSource(path)
    assert [u.extension for u in source.current().users] == ["1001"]
    path.write_text(SITE + '  - {extension: "1002", name: Bob}\n')
    touch_later(path)
    assert [u.extension for u in source.current().users] == ["1001", "1002"]


def test_a_bad_edit_or_a_missing_file_keeps_the_last_good_site(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(SITE)
    source = SiteSource(path)
    good = source.current()
    path.write_text(SITE.replace('"1001"', '"10x1"'))
    touch_later(path)
    assert source.current() is good
    path.unlink()
    assert source.current() is good


def test_no_site_at_start_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="cannot read the applied site"):
        SiteSource(tmp_path / "site.yaml").current()
    bad = tmp_path / "bad.yaml"
    bad.write_text("users: [")
    with pytest.raises(SiteError):
        SiteSource(bad).current()

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pbx_ext.errors import SecretsError
from pbx_ext.secrets import SecretStore


def test_generated_once_then_stable_and_private(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "state")
    first = store.ensure(["1001", "1002"])
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert len(first.sip_password("1001")) >= 20
    assert first.sip_password("1001") != first.sip_password("1002")
    assert first.ari_password != first.ami_password
    again = SecretStore(tmp_path / "state").ensure(["1002", "1001", "1003"])
    assert again.sip_password("1001") == first.sip_password("1001")
    assert again.ari_password == first.ari_password
    assert set(again.sip) == {"1001", "1002", "1003"}


def test_removed_user_gets_the_same_password_back(tmp_path: Path) -> None:
    store = SecretStore(tmp_path)
    pw = store.ensure(["1001", "1002"]).sip_password("1002")
    assert set(store.ensure(["1001"]).sip) == {"1001"}
    assert store.ensure(["1001", "1002"]).sip_password("1002") == pw


def test_unchanged_secrets_are_not_rewritten(tmp_path: Path) -> None:
    store = SecretStore(tmp_path)
    store.ensure(["1001"])
    before = store.path.stat().st_mtime_ns
    store.ensure(["1001"])
    assert store.path.stat().st_mtime_ns == before


def test_world_readable_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    store = SecretStore(tmp_path)
    store.ensure(["1001"])
    os.chmod(store.path, 0o644)
    with pytest.raises(SecretsError, match="chmod 600"):
        store.ensure(["1001"])


def test_corrupt_file_is_an_error_not_a_silent_reset(tmp_path: Path) -> None:
    store = SecretStore(tmp_path)
    store.ensure(["1001"])
    store.path.write_text("{not json")
    with pytest.raises(SecretsError, match="cannot read the secrets file"):
        store.ensure(["1001"])
    assert store.path.read_text() == "{not json"  # nothing was lost


def test_file_content_is_json_with_sip_ari_ami(tmp_path: Path) -> None:
    SecretStore(tmp_path).ensure(["1001"])
    data = json.loads((tmp_path / "secrets.json").read_text())
    assert set(data) == {"sip", "ari", "ami"}

"""Generated Asterisk configuration: golden files for the example site, and the rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pbx_ext.deployment import Deployment
from pbx_ext.generate import GenerateInput, generate
from pbx_ext.secrets import Credentials
from pbx_ext.site import Site, load_site, parse_site

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "office.yaml"
GOLDEN = ROOT / "asterisk-config" / "office"


def placeholder_credentials(site: Site) -> Credentials:
    """Fixed stand-ins: real ones are generated per installation into the state dir."""
    return Credentials(
        sip={u.extension: f"example-sip-password-{u.extension}" for u in site.users},
        ari_user="pbx-ext",
        ari_password="example-ari-password",
        ami_user="pbx-ext",
        ami_password="example-ami-password",
    )


def render(site: Site, trunk_passwords: dict[str, str | None] | None = None) -> dict[str, str]:
    dep = Deployment(state_dir=Path("/var/lib/pbx-ext"), config_dir=Path("/etc/asterisk"))
    passwords = (
        trunk_passwords
        if trunk_passwords is not None
        else {t.name: "example-trunk-password" for t in site.trunks}
    )
    return generate(
        GenerateInput(site, "office.yaml", placeholder_credentials(site), dep, passwords)
    )


def test_example_site_matches_the_golden_files() -> None:
    files = render(load_site(EXAMPLE))
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (GOLDEN / name).write_text(text)
    assert sorted(p.name for p in GOLDEN.glob("*.conf")) == sorted(files)
    for name, text in files.items():
        assert (GOLDEN / name).read_text() == text, f"{name} differs; UPDATE_GOLDEN=1 to accept"


def test_same_input_gives_byte_identical_output() -> None:
    assert render(load_site(EXAMPLE)) == render(load_site(EXAMPLE))


def test_no_clear_sip_password_and_services_on_loopback() -> None:
    files = render(load_site(EXAMPLE))
    assert "example-sip-password" not in files["pjsip.conf"]  # md5_cred only
    assert "auth_type = md5" in files["pjsip.conf"]
    assert "bindaddr = 127.0.0.1" in files["http.conf"]
    assert "bindaddr = 127.0.0.1" in files["manager.conf"]
    assert "permit = 127.0.0.1/255.255.255.255" in files["manager.conf"]


def test_modules_that_wedge_asterisk_are_not_loaded() -> None:
    modules = render(load_site(EXAMPLE))["modules.conf"]
    assert "autoload => yes" in modules
    for module in ("chan_iax2.so", "pbx_dundi.so"):
        assert f"noload => {module}" in modules


def test_every_call_enters_stasis_with_a_fallback() -> None:
    dialplan = render(load_site(EXAMPLE))["extensions.conf"]
    assert "Stasis(pbx-ext,user,${CHANNEL(endpoint)})" in dialplan
    assert '"${STASISSTATUS}" = "FAILED"]?pbx-fallback-users' in dialplan
    assert "exten => 1001,1,Gosub(pbx-dial,s,1(1001," in dialplan


SMALL = """
site: {name: T, domain: pbx.test, timezone: UTC}
users:
  - {extension: "1001", name: Ann}
trunks:
  - {name: sbc, host: 192.0.2.10, username: acme, password_env: SBC_PW, register: true}
"""


def test_trunk_without_its_password_has_no_auth_or_registration() -> None:
    site = parse_site(SMALL, "t.yaml")
    files = render(site, trunk_passwords={"sbc": None})
    assert "[trunk-sbc-auth]" not in files["pjsip.conf"]
    assert "type = registration" not in files["pjsip.conf"]
    with_pw = render(site, trunk_passwords={"sbc": "s3cret"})["pjsip.conf"]
    assert "[trunk-sbc-auth]" in with_pw
    assert "type = registration" in with_pw
    assert "client_uri = sip:acme@192.0.2.10" in with_pw


def test_trunk_is_identified_by_address_only() -> None:
    pjsip = render(parse_site(SMALL, "t.yaml"))["pjsip.conf"]
    assert "identify_by = ip" in pjsip
    assert "match = 192.0.2.10" in pjsip
    assert "endpoint_identifier_order = ip,username" in pjsip


@pytest.mark.parametrize("bad", ["pass;word", "pass\nword"])
def test_trunk_password_cannot_break_the_file(bad: str) -> None:
    site = parse_site(SMALL, "t.yaml")
    if "\n" in bad:
        with pytest.raises(ValueError, match="line break"):
            render(site, trunk_passwords={"sbc": bad})
    else:
        assert "password = pass\\;word" in render(site, trunk_passwords={"sbc": bad})["pjsip.conf"]

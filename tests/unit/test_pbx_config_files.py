"""sip.pbx_config: configurations for real PBXs, for an account (pure). Asterisk and FreeSWITCH
are not packaged here, so their files are held to their documented formats: res_pjsip's
pjsip.conf object types and option names, the extensions.conf syntax, and mod_sofia's XML
(gateway and profile parameters, ACL lists, dialplan conditions), as docs.asterisk.org and
developer.signalwire.com describe them. Kamailio, baresip and linphone are judged by the
software itself in tests/interop/test_pbx_config.py and test_linphone.py."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from sip.auth import REALM
from sip.pbx_config import AUTHS, KINDS, PbxConfigError, render
from store.records import EndpointAddress
from tests.support.accounts import PBX_SID, PBX_TOKEN, default_account

# res_pjsip (pjsip.conf): the options each object type documents, of those a trunk needs
PJSIP_OPTIONS = {
    "transport": {"type", "protocol", "bind"},
    "endpoint": {"type", "transport", "context", "disallow", "allow", "aors", "outbound_auth", "from_user",
                 "from_domain", "direct_media", "rtp_symmetric", "send_pai", "media_address",
                 "bind_rtp_to_media_address", "dtmf_mode"},
    "aor": {"type", "contact"},
    "auth": {"type", "auth_type", "username", "password", "realm"},
    "identify": {"type", "endpoint", "match"},
}
# mod_sofia gateway parameters (Sofia Gateway Authentication Params) and profile settings used
SOFIA_GATEWAY_PARAMS = {"proxy", "register", "caller-id-in-from", "from-user", "from-domain", "username", "password",
                        "realm"}
SOFIA_PROFILE_PARAMS = {"sip-ip", "rtp-ip", "ext-sip-ip", "ext-rtp-ip", "sip-port", "context", "dialplan",
                        "auth-calls", "apply-inbound-acl", "codec-prefs", "inbound-codec-negotiation", "dtmf-type"}


def files(kind: str, auth: str = "proxy", *, reveal: bool = True, account=None) -> dict[str, str]:
    return {f.name: f.text for f in render(kind, account or default_account(), auth=auth, reveal=reveal)}


def pjsip_sections(text: str) -> list[tuple[str, dict[str, list[str]]]]:
    """pjsip.conf as (section name, {option: [values]}): a name may repeat across types."""
    sections: list[tuple[str, dict[str, list[str]]]] = []
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if not line:
            continue
        if re.fullmatch(r"\[[A-Za-z0-9_-]+\]", line):
            sections.append((line[1:-1], {}))
            continue
        key, equals, value = line.partition("=")
        assert equals and sections, f"not an option line inside a section: {line!r}"
        sections[-1][1].setdefault(key.strip(), []).append(value.strip())
    return sections


# ------------------------------------------------------------------ Asterisk

@pytest.mark.parametrize("auth", AUTHS)
def test_pjsip_conf_uses_only_documented_objects_and_options(auth):
    sections = pjsip_sections(files("asterisk", auth)["pjsip.conf"])
    by_type: dict[str, list[tuple[str, dict]]] = {}
    for name, options in sections:
        (kind,) = options["type"]
        assert kind in PJSIP_OPTIONS, f"[{name}] type={kind}"
        assert set(options) <= PJSIP_OPTIONS[kind], f"[{name}] undocumented: {set(options) - PJSIP_OPTIONS[kind]}"
        by_type.setdefault(kind, []).append((name, options))
    names = {kind: {name for name, _ in items} for kind, items in by_type.items()}
    (transport,) = by_type["transport"]
    assert transport[1]["bind"] == ["127.0.0.10:5060"] and transport[1]["protocol"] == ["udp"]
    assert [o["contact"] for _, o in by_type["aor"]] == [["sip:127.0.0.2:5060"], ["sip:127.0.0.3:5060"]]
    assert sorted(m for _, o in by_type["identify"] for m in o["match"]) == ["127.0.0.2", "127.0.0.3"]
    for name, options in by_type["endpoint"]:
        assert set(options["aors"]) <= names["aor"] and set(options["transport"]) <= names["transport"]
        assert options["allow"] == ["ulaw,alaw"] and options["from_user"] == ["12025550100"]
        assert options["media_address"] == ["127.0.0.10"] and options["context"] == ["from-carrierx"]
        assert ("outbound_auth" in options) == (auth == "proxy")
        assert set(options.get("outbound_auth", [])) <= names.get("auth", set())
    assert {o["endpoint"][0] for _, o in by_type["identify"]} == names["endpoint"]
    if auth == "proxy":
        ((_, credentials),) = by_type["auth"]
        assert credentials["username"] == [PBX_SID] and credentials["password"] == [PBX_TOKEN]
        assert credentials["realm"] == [REALM] and credentials["auth_type"] == ["userpass"]
    else:
        assert "auth" not in by_type


def test_extensions_conf_answers_each_number_and_fails_over_between_gateways():
    text = files("asterisk", "header")["extensions.conf"]
    contexts: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if not line:
            continue
        if re.fullmatch(r"\[[a-z-]+\]", line):
            current = contexts.setdefault(line[1:-1], [])
            continue
        assert re.fullmatch(r"(exten => [^,]+,1|same => n),[A-Za-z_]+\(.*\)", line), line
        current.append(line)
    assert set(contexts) == {"from-carrierx", "to-carrierx", "carrierx-headers"}
    inbound = "\n".join(contexts["from-carrierx"])
    assert "exten => 12025550100,1,Answer()" in inbound and "exten => +12025550101,1,Goto(12025550101,1)" in inbound
    dials = [line for line in contexts["to-carrierx"] if "Dial(" in line]
    assert dials == [f"same => n,Dial(PJSIP/${{EXTEN}}@carrierx-{i},30,b(carrierx-headers^s^1))" for i in (1, 2)]
    handler = "\n".join(contexts["carrierx-headers"])
    assert f"Set(PJSIP_HEADER(add,X-Auth-EndpointSid)={PBX_SID})" in handler
    assert f"Set(PJSIP_HEADER(add,X-Auth-VoipToken)={PBX_TOKEN})" in handler and handler.endswith("Return()")


# ------------------------------------------------------------------ FreeSWITCH

@pytest.mark.parametrize("auth", AUTHS)
def test_freeswitch_files_are_xml_in_mod_sofias_shape(auth):
    for text in files("freeswitch", auth, reveal=False).values():
        ET.fromstring(text)  # masked too: a comment that says --reveal would not be XML
    parsed = {name: ET.fromstring(text) for name, text in files("freeswitch", auth).items()}
    profile = parsed["sip_profiles/carrierx.xml"]
    assert profile.tag == "profile" and profile.get("name") == "carrierx"
    settings = {p.get("name"): p.get("value") for p in profile.find("settings")}
    assert set(settings) <= SOFIA_PROFILE_PARAMS
    assert (settings["sip-ip"], settings["rtp-ip"], settings["sip-port"]) == ("127.0.0.10", "127.0.0.10", "5060")
    assert settings["apply-inbound-acl"] == "carrierx" and settings["codec-prefs"] == "PCMU,PCMA"
    gateways = profile.find("gateways").findall("gateway")
    assert [g.get("name") for g in gateways] == ["carrierx-1", "carrierx-2"]
    for gateway, proxy in zip(gateways, ("127.0.0.2:5060", "127.0.0.3:5060")):
        params = {p.get("name"): p.get("value") for p in gateway.findall("param")}
        assert set(params) <= SOFIA_GATEWAY_PARAMS and params["proxy"] == proxy and params["register"] == "false"
        assert (params["username"] == PBX_SID and params["password"] == PBX_TOKEN) == (auth == "proxy")
        variables = {v.get("name"): (v.get("value"), v.get("direction")) for v in gateway.iter("variable")}
        if auth == "header":
            assert variables == {"sip_h_X-Auth-EndpointSid": (PBX_SID, "outbound"),
                                 "sip_h_X-Auth-VoipToken": (PBX_TOKEN, "outbound")}
        else:
            assert variables == {}
    acl = parsed["autoload_configs/carrierx-acl.xml"]
    assert (acl.tag, acl.get("name"), acl.get("default")) == ("list", "carrierx", "deny")
    assert [(n.get("type"), n.get("cidr")) for n in acl] == [("allow", "127.0.0.2/32"), ("allow", "127.0.0.3/32")]
    inbound = parsed["dialplan/public/carrierx.xml"].find("extension/condition")
    pattern = re.compile(inbound.get("expression"))
    assert all(pattern.match(n) for n in ("12025550100", "+12025550101")) and not pattern.match("12025550199")
    outbound = parsed["dialplan/default/carrierx.xml"].find("extension/condition")
    bridge = next(a.get("data") for a in outbound if a.get("application") == "bridge")
    assert bridge == "sofia/gateway/carrierx-1/$1|sofia/gateway/carrierx-2/$1"
    assert re.compile(outbound.get("expression")).match("+14155550123")


# ------------------------------------------------------------------ every kind

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("auth", AUTHS)
def test_the_token_is_masked_unless_revealed(kind, auth):
    masked = render(kind, default_account(), auth=auth, reveal=False)
    assert not any(PBX_TOKEN in f.text for f in masked) and not any(f.holds_secret for f in masked)
    shown = render(kind, default_account(), auth=auth, reveal=True)
    carries = [f for f in shown if PBX_TOKEN in f.text]
    # baresip and linphone cannot send headers: with header auth the Kamailio in front holds the token
    expected = auth == "proxy" or (auth == "header" and kind not in ("baresip", "linphone"))
    assert bool(carries) == expected and all(f.holds_secret for f in carries)
    assert [f.name for f in masked if "MASKED" in f.text] == [f.name for f in carries]


@pytest.mark.parametrize("kind", KINDS)
def test_header_auth_carries_the_security_note(kind):
    for item in render(kind, default_account(), auth="header"):
        assert "clear text" in item.text and "use proxy authentication" in item.text, item.name
    assert not any("clear text" in f.text for f in render(kind, default_account(), auth="proxy"))


@pytest.mark.parametrize("kind", KINDS)
def test_every_file_names_the_gateways_to_allow_and_the_numbers(kind):
    for item in render(kind, default_account(), auth="proxy"):
        assert "allow SIP and RTP from): 127.0.0.2:5060 and 127.0.0.3:5060" in item.text
        assert "+12025550100, +12025550101" in item.text and PBX_SID in item.text


def test_baresip_accounts_one_per_number():
    proxy = files("baresip", "proxy")["accounts"].splitlines()
    lines = [line for line in proxy if line.startswith("<")]
    assert lines == [f"<sip:{n}@127.0.0.2:5060>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA;"
                     f"auth_user={PBX_SID};auth_pass={PBX_TOKEN}" for n in ("12025550100", "12025550101")]
    ip = [line for line in files("baresip", "ip")["accounts"].splitlines() if line.startswith("<")]
    assert all("auth_user" not in line for line in ip)
    header = files("baresip", "header")
    assert all(line.endswith(';outbound="sip:127.0.0.10:5060;lr"') for line in header["accounts"].splitlines()
               if line.startswith("<"))
    assert "sip_listen 127.0.0.10:5080" in header["config"]  # behind Kamailio


def test_kamailio_in_front_forwards_to_the_pbx_behind_it():
    text = files("kamailio", "header")["kamailio.cfg"]
    assert "listen=udp:127.0.0.10:5060" in text and '$du = "sip:127.0.0.10:5080";' in text
    assert f'append_hf("X-Auth-VoipToken: {PBX_TOKEN}\\r\\n");' in text
    assert '$du = "sip:127.0.0.3:5060";' in text  # failover to the other gateway address
    behind = files("kamailio", "proxy", account=default_account())
    assert f'modparam("uac", "credential", "{PBX_SID}:{REALM}:{PBX_TOKEN}")' in behind["kamailio.cfg"]
    moved = {f.name: f.text for f in render("kamailio", default_account(), auth="ip", behind="127.0.0.12:5090")}
    assert '$du = "sip:127.0.0.12:5090";' in moved["kamailio.cfg"] and "uac_auth" not in moved["kamailio.cfg"]


# ------------------------------------------------------------------ what the account must have first

@pytest.mark.parametrize(("change", "auth", "words"), [
    (lambda a: replace(a, endpoints=(a.system_gateway,)), "proxy", "no third-party endpoint"),
    (lambda a: replace(a, endpoints=(a.system_gateway, replace(a.endpoints[1], addresses=()))), "proxy",
     "no loopback address for inbound calls"),
    (lambda a: replace(a, endpoints=(a.system_gateway, replace(a.endpoints[1], addresses=(
        EndpointAddress(3, PBX_SID, "127.0.0.10", direction="inbound"),)), a.endpoints[2])), "ip",
     "needs direction any"),
    (lambda a: a, "digest", "--auth is one of"),
])
def test_what_is_missing_is_said(change, auth, words):
    with pytest.raises(PbxConfigError, match=words):
        render("asterisk", change(default_account()), auth=auth)


@pytest.mark.parametrize("behind", ["10.0.0.5:5080", "127.0.0.12:99999", "pbx.example:5060"])
def test_the_pbx_behind_kamailio_is_a_loopback_address(behind):
    with pytest.raises(PbxConfigError, match="--pbx"):
        render("kamailio", default_account(), behind=behind)


def test_numbers_not_assigned_yet_are_said():
    account = default_account()
    account = replace(account, dids=tuple(replace(d, trunk_group_sid=None) for d in account.dids))
    text = files("asterisk", account=account)["extensions.conf"]
    assert "none assigned yet" in text and "nothing to answer" in text

"""Ready configurations for real PBXs and SIP software, for the current account (pure).

`python app.py pbx-config KIND [--auth ip|proxy|header] [--reveal]` prints what a PBX admin
would type in to connect KIND to this carrier account:

* the System Gateway addresses to send calls to, and to let through the PBX's firewall;
* where the PBX listens: the third-party endpoint's first address for inbound calls;
* the endpoint SID and VoIP token (masked unless revealed) for proxy or header authentication;
* the DIDs (phone numbers) the trunk group delivers to the endpoint.

Kinds:

* asterisk   res_pjsip (pjsip.conf) and a dialplan (extensions.conf);
* freeswitch a Sofia SIP profile with one gateway per System Gateway address, an ACL and
             dialplan entries;
* kamailio   a customer-side edge proxy in front of a PBX: the carrier sends to Kamailio, which
             forwards to the PBX behind it; the PBX's calls leave through Kamailio, which adds
             the authentication (IP: its own address; proxy: answers the challenge; header: adds
             the X-Auth headers). The way to header authentication for a PBX that cannot add
             headers itself;
* baresip    baresip 1.0 (Debian 12) as a small headless PBX: it answers every call to the
             numbers automatically, plays a tone and records what it hears. baresip 1.0 cannot
             add SIP headers (that came in baresip 2), so with --auth header it sends its calls
             through the Kamailio of `pbx-config kamailio --auth header`;
* linphone   linphonec (linphone-cli 5.1); answers with `linphonec -a`. Header auth: as baresip.

With Kamailio in front (kamailio, and baresip/linphone with --auth header), the PBX itself
listens behind it, on the endpoint address's port + 20 unless told otherwise (`behind`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from store.export import mask_token
from store.records import CARRIER_CODECS, Account

from .auth import REALM

PSTN_TEST_NUMBER = "14155550123"  # any E.164 number reaches the lab's PSTN; this one is sip.lab's

KINDS = ("asterisk", "freeswitch", "kamailio", "baresip", "linphone")
AUTHS = ("ip", "proxy", "header")
BEHIND_OFFSET = 20  # the PBX behind Kamailio: the endpoint address's port + this
BARESIP_CONTROL_PORT = 4444  # baresip's ctrl_tcp default
LINPHONE_RTP_PORT = 7078  # linphone's default audio port
SECURITY_NOTE = (
    "Security note: header-based authentication puts the VoIP token in clear text in every INVITE",
    "(anyone who can read the signalling can read it). It is a workaround for devices and carriers",
    "that cannot answer a proxy digest challenge; where you can, use proxy authentication.",
)


class PbxConfigError(ValueError):
    """The account cannot give this configuration yet (the message says what is missing)."""


@dataclass(frozen=True)
class ConfigFile:
    name: str  # the file name the software expects
    text: str
    holds_secret: bool = False  # the VoIP token in clear: write it owner-only


@dataclass(frozen=True)
class Facts:
    """What every configuration is made of, read from the account."""

    endpoint_name: str
    endpoint_sid: str
    voip_token: str  # in clear, or masked
    token_masked: bool
    gateways: tuple[tuple[str, int], ...]
    listen: tuple[str, int]  # where the carrier sends inbound calls: the PBX (or Kamailio)
    behind: tuple[str, int]  # the PBX behind Kamailio
    dids: tuple[str, ...]  # E.164 digits, no '+'
    auth: str
    realm: str = REALM

    @property
    def caller_id(self) -> str:
        return self.dids[0] if self.dids else "anonymous"

    @property
    def gateway_ips(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(ip for ip, _ in self.gateways))


def facts(account: Account, auth: str, *, reveal: bool = False, behind: str | None = None) -> Facts:
    if auth not in AUTHS:
        raise PbxConfigError(f"--auth is one of {', '.join(AUTHS)}, not {auth!r}")
    endpoint = account.pbx_endpoint()
    if endpoint is None:
        raise PbxConfigError("the account has no third-party endpoint yet: add one (Endpoints -> Add New Endpoint) "
                             "with the address your PBX listens on")
    listen = next(((a.ip, a.port) for a in endpoint.addresses if a.allows("inbound") and "/" not in a.ip
                   and ipaddress.ip_address(a.ip).is_loopback), None)
    if listen is None:
        raise PbxConfigError(f"endpoint {endpoint.name!r} has no loopback address for inbound calls: add the address "
                             "your PBX listens on (direction any or inbound)")
    if auth == "ip":
        sender = next((a for a in endpoint.addresses if (a.ip, a.port) == listen), None)
        if sender is None or not sender.allows("outbound"):
            raise PbxConfigError(f"IP authentication: your PBX sends from {listen[0]}:{listen[1]}, the address it "
                                 "listens on, so that address needs direction any (it has inbound)")
    if not endpoint.voip_token:
        raise PbxConfigError(f"endpoint {endpoint.name!r} has no VoIP token")
    return Facts(
        endpoint_name=endpoint.name, endpoint_sid=endpoint.endpoint_sid,
        voip_token=endpoint.voip_token if reveal else mask_token(endpoint.voip_token), token_masked=not reveal,
        gateways=tuple((a.ip, a.port) for a in account.system_gateway.addresses), listen=listen,
        behind=_address(behind, "--pbx") if behind else (listen[0], listen[1] + BEHIND_OFFSET),
        dids=tuple(d.phonenumber for d in account.assigned_phonenumbers(endpoint.endpoint_sid)), auth=auth,
    )


def _address(text: str, what: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "5060")
    try:
        ip = ipaddress.IPv4Address(host)
        number = int(port)
    except ValueError:
        raise PbxConfigError(f"{what}: {text!r} is not an IPv4 address with a port (e.g. 127.0.0.10:5080)") from None
    if not ip.is_loopback or not 1 <= number <= 65535:
        raise PbxConfigError(f"{what}: {text} must be a loopback address and a port 1-65535")
    return str(ip), number


def render(kind: str, account: Account, *, auth: str = "proxy", reveal: bool = False,
           behind: str | None = None) -> list[ConfigFile]:
    if kind not in KINDS:
        raise PbxConfigError(f"pbx-config knows {', '.join(KINDS)}, not {kind!r}")
    f = facts(account, auth, reveal=reveal, behind=behind)
    return {"asterisk": _asterisk, "freeswitch": _freeswitch, "kamailio": _kamailio, "baresip": _baresip,
            "linphone": _linphone}[kind](f)


# ---------------------------------------------------------------------------- shared words

def _header(f: Facts, mark: str, software: str, *, carries_token: bool = True) -> list[str]:
    """The comment block every file starts with: what this is, for which account."""
    gateways = " and ".join(f"{ip}:{port}" for ip, port in f.gateways)
    lines = [
        f"{software}, connected to the carrier trunk of trunklab's account:",
        f"  third-party endpoint {f.endpoint_name!r}, endpoint_sid {f.endpoint_sid}",
        f"  System Gateway (send calls to, and allow SIP and RTP from): {gateways}",
        f"  inbound calls arrive at {f.listen[0]}:{f.listen[1]}; numbers: "
        + (", ".join("+" + d for d in f.dids) or "none assigned yet (Phone Numbers -> Edit -> trunk group)"),
        f"  outbound calls authenticate by {_method_words(f.auth)}",
    ]
    if f.token_masked and f.auth in ("proxy", "header") and carries_token:
        lines.append("  the VoIP token below is MASKED: run pbx-config again with --reveal to print it")
    if f.auth == "header":
        lines += ["", *SECURITY_NOTE]
    return [f"{mark} {line}".rstrip() for line in lines]


def _method_words(auth: str) -> str:
    return {"ip": "IP (the address and port they come from is an endpoint address)",
            "proxy": "proxy digest (username: the endpoint SID, password: the VoIP token)",
            "header": "X-Auth-EndpointSid and X-Auth-VoipToken headers"}[auth]


def _codec_names(table: dict[str, str]) -> list[str]:
    return [table[c] for c in CARRIER_CODECS]


# ---------------------------------------------------------------------------- Asterisk

def _asterisk(f: Facts) -> list[ConfigFile]:
    ip, port = f.listen
    pjsip = _header(f, ";", "Asterisk (res_pjsip) pjsip.conf", carries_token=f.auth == "proxy") + [
        "; Asterisk listens on the endpoint address; RTP is bound to it too.",
        "",
        "[trunklab-udp]",
        "type=transport",
        "protocol=udp",
        f"bind={ip}:{port}",
        "",
    ]
    if f.auth == "proxy":
        pjsip += [
            "[carrierx-auth]",
            "type=auth",
            "auth_type=userpass",
            f"username={f.endpoint_sid}",
            f"password={f.voip_token}",
            f"realm={f.realm}",
            "",
        ]
    for index, (gw_ip, gw_port) in enumerate(f.gateways, 1):
        name = f"carrierx-{index}"
        pjsip += [
            f"; System Gateway address {index}: inbound calls come from it, outbound calls go to it",
            f"[{name}]",
            "type=endpoint",
            "transport=trunklab-udp",
            "context=from-carrierx",
            "disallow=all",
            f"allow={','.join(_codec_names({'PCMU': 'ulaw', 'PCMA': 'alaw'}))}",
            f"aors={name}",
            f"from_user={f.caller_id}",
            f"from_domain={gw_ip}",
            "direct_media=no",
            "rtp_symmetric=yes",
            "send_pai=yes",
            f"media_address={ip}",
            "bind_rtp_to_media_address=yes",
            "dtmf_mode=rfc4733",
        ]
        if f.auth == "proxy":
            pjsip.append("outbound_auth=carrierx-auth")
        pjsip += [
            "",
            f"[{name}]",
            "type=aor",
            f"contact=sip:{gw_ip}:{gw_port}",
            "",
            f"[{name}-identify]",
            "type=identify",
            f"endpoint={name}",
            f"match={gw_ip}",
            "",
        ]
    handler = ",b(carrierx-headers^s^1)" if f.auth == "header" else ""
    dial = [f"same => n,Dial(PJSIP/${{EXTEN}}@carrierx-{i},30{handler})" for i in range(1, len(f.gateways) + 1)]
    extensions = _header(f, ";", "Asterisk extensions.conf", carries_token=f.auth == "header") + [
        "",
        "[from-carrierx]",
        "; calls to your numbers: answered, and what the caller says comes back (Echo)",
    ]
    for did in f.dids:
        extensions += [f"exten => {did},1,Answer()", "same => n,Echo()", "same => n,Hangup()",
                       f"exten => +{did},1,Goto({did},1)"]
    if not f.dids:
        extensions += ["; no number is assigned to the endpoint's trunk group yet: nothing to answer"]
    extensions += [
        "",
        "[to-carrierx]",
        f"; your users dial E.164 numbers (e.g. +{PSTN_TEST_NUMBER}); failover to the second gateway address",
        "exten => _+X.,1,Goto(${EXTEN:1},1)",
        "exten => _X.,1,NoOp(to the carrier)",
        *dial,
        "same => n,Hangup()",
    ]
    if f.auth == "header":
        extensions += [
            "",
            "[carrierx-headers]",
            "; a pre-dial handler: runs on the outgoing channel, so the headers go in its INVITE",
            f"exten => s,1,Set(PJSIP_HEADER(add,X-Auth-EndpointSid)={f.endpoint_sid})",
            f"same => n,Set(PJSIP_HEADER(add,X-Auth-VoipToken)={f.voip_token})",
            "same => n,Return()",
        ]
    secret = not f.token_masked
    return [ConfigFile("pjsip.conf", "\n".join(pjsip) + "\n", secret and f.auth == "proxy"),
            ConfigFile("extensions.conf", "\n".join(extensions) + "\n", secret and f.auth == "header")]


# ---------------------------------------------------------------------------- FreeSWITCH

def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _freeswitch(f: Facts) -> list[ConfigFile]:
    ip, port = f.listen
    def comment(what: str, carries_token: bool = False) -> list[str]:
        lines = _header(f, "   ", f"FreeSWITCH (mod_sofia) {what}", carries_token=carries_token)
        return ["<!--", *(line.replace("--", "") for line in lines), "-->"]  # XML comments hold no '--'

    gateways: list[str] = []
    for index, (gw_ip, gw_port) in enumerate(f.gateways, 1):
        params = [("proxy", f"{gw_ip}:{gw_port}"), ("register", "false"), ("caller-id-in-from", "true"),
                  ("from-user", f.caller_id), ("from-domain", gw_ip)]
        if f.auth == "proxy":
            params += [("username", f.endpoint_sid), ("password", f.voip_token), ("realm", f.realm)]
        else:  # IP or header auth: no credentials to answer a challenge with
            params += [("username", f.caller_id), ("password", "unused")]
        gateways += [f'      <gateway name="carrierx-{index}">']
        gateways += [f'        <param name="{name}" value="{_xml(value)}"/>' for name, value in params]
        if f.auth == "header":
            gateways += ["        <variables>",
                         f'          <variable name="sip_h_X-Auth-EndpointSid" value="{_xml(f.endpoint_sid)}" '
                         'direction="outbound"/>',
                         f'          <variable name="sip_h_X-Auth-VoipToken" value="{_xml(f.voip_token)}" '
                         'direction="outbound"/>',
                         "        </variables>"]
        gateways += ["      </gateway>"]
    profile = comment("sip_profiles/carrierx.xml", carries_token=f.auth != "ip") + [
        '<profile name="carrierx">',
        "  <gateways>",
        *gateways,
        "  </gateways>",
        "  <settings>",
        f'    <param name="sip-ip" value="{ip}"/>',
        f'    <param name="rtp-ip" value="{ip}"/>',
        f'    <param name="ext-sip-ip" value="{ip}"/>',
        f'    <param name="ext-rtp-ip" value="{ip}"/>',
        f'    <param name="sip-port" value="{port}"/>',
        '    <param name="context" value="public"/>',
        '    <param name="dialplan" value="XML"/>',
        '    <param name="auth-calls" value="false"/>',
        '    <param name="apply-inbound-acl" value="carrierx"/>',
        f'    <param name="codec-prefs" value="{",".join(CARRIER_CODECS)}"/>',
        '    <param name="inbound-codec-negotiation" value="generous"/>',
        '    <param name="dtmf-type" value="rfc2833"/>',
        "  </settings>",
        "</profile>",
    ]
    acl = [*comment("ACL: put this list inside <network-lists> of autoload_configs/acl.conf.xml"),
           '<list name="carrierx" default="deny">',
           *(f'  <node type="allow" cidr="{gw}/32"/>' for gw in f.gateway_ips),
           "</list>"]
    numbers = "|".join(f.dids) or "\\d+"
    bridge = "|".join(f"sofia/gateway/carrierx-{i}/$1" for i in range(1, len(f.gateways) + 1))
    public = [*comment("dialplan/public/carrierx.xml: calls to your numbers, answered with an echo"), "<include>",
              '  <extension name="carrierx-inbound">',
              f'    <condition field="destination_number" expression="^\\+?({numbers})$">',
              '      <action application="answer"/>',
              '      <action application="echo"/>',
              "    </condition>",
              "  </extension>",
              "</include>"]
    outbound = [*comment("dialplan/default/carrierx.xml: E.164 numbers out through the carrier; '|' fails "
                         "over to the second gateway address"), "<include>",
                '  <extension name="carrierx-outbound">',
                '    <condition field="destination_number" expression="^\\+?(\\d{8,15})$">',
                f'      <action application="set" data="effective_caller_id_number={f.caller_id}"/>',
                f'      <action application="bridge" data="{bridge}"/>',
                "    </condition>",
                "  </extension>",
                "</include>"]
    secret = not f.token_masked and f.auth in ("proxy", "header")
    return [ConfigFile("sip_profiles/carrierx.xml", "\n".join(profile) + "\n", secret),
            ConfigFile("autoload_configs/carrierx-acl.xml", "\n".join(acl) + "\n"),
            ConfigFile("dialplan/public/carrierx.xml", "\n".join(public) + "\n"),
            ConfigFile("dialplan/default/carrierx.xml", "\n".join(outbound) + "\n")]


# ---------------------------------------------------------------------------- Kamailio

def _kamailio(f: Facts) -> list[ConfigFile]:
    ip, port = f.listen
    pbx_ip, pbx_port = f.behind
    primary, *others = f.gateways
    from_carrier = " || ".join(f'$si == "{gw}"' for gw in f.gateway_ips)
    lines = ["#!KAMAILIO", *_header(f, "#", "Kamailio 5.6 as the edge proxy in front of your PBX"),
             f"# Your PBX listens behind it on {pbx_ip}:{pbx_port} and sends its calls here. Kamailio relays",
             "# the signalling only: RTP flows between your PBX and the System Gateway directly.",
             f"# Run: kamailio -f kamailio.cfg -DD -E   (check it first: kamailio -c -f kamailio.cfg)",
             "",
             "debug=2",
             "log_stderror=yes",
             "children=2",
             f"listen=udp:{ip}:{port}",
             "disable_tcp=yes",
             "auto_aliases=no",
             "dns=no",
             "rev_dns=no",
             "",
             'loadmodule "tm.so"',
             'loadmodule "sl.so"',
             'loadmodule "rr.so"',
             'loadmodule "pv.so"',
             'loadmodule "maxfwd.so"',
             'loadmodule "textops.so"',
             'loadmodule "siputils.so"',
             'loadmodule "xlog.so"',
             'loadmodule "uac.so"',
             "",
             'modparam("rr", "enable_full_lr", 1)',
             'modparam("tm", "fr_inv_timer", 60000)  # a ringing PBX may take a minute',
             ]
    if f.auth == "proxy":
        lines += ["# proxy authentication: the credentials Kamailio answers the carrier's challenge with",
                  f'modparam("uac", "credential", "{f.endpoint_sid}:{f.realm}:{f.voip_token}")']
    lines += ["",
              "request_route {",
              '    if (!mf_process_maxfwd_header("10")) {',
              '        sl_send_reply("483", "Too Many Hops");',
              "        exit;",
              "    }",
              "    if (has_totag()) {  # within a call: follow the route the INVITE set up",
              "        if (loose_route()) {",
              "            t_relay();",
              "            exit;",
              "        }",
              '        if (is_method("ACK") && t_check_trans()) {',
              "            t_relay();",
              "        }",
              "        exit;",
              "    }",
              '    if (is_method("CANCEL")) {',
              "        if (t_check_trans()) {",
              "            t_relay();",
              "        }",
              "        exit;",
              "    }",
              '    if (!is_method("INVITE|OPTIONS")) {',
              '        sl_send_reply("405", "Method Not Allowed");',
              "        exit;",
              "    }",
              "    record_route();",
              f"    if ({from_carrier}) {{  # inbound: from the System Gateway to your PBX",
              f'        $du = "sip:{pbx_ip}:{pbx_port}";',
              "        t_relay();",
              "        exit;",
              "    }",
              f'    if ($si == "{pbx_ip}" && $sp == {pbx_port}) {{  # outbound: from your PBX to the carrier',
              ]
    if f.auth == "header":
        lines += ['        remove_hf("X-Auth-EndpointSid");',
                  '        remove_hf("X-Auth-VoipToken");',
                  f'        append_hf("X-Auth-EndpointSid: {f.endpoint_sid}\\r\\n");',
                  f'        append_hf("X-Auth-VoipToken: {f.voip_token}\\r\\n");']
    lines += [f'        $du = "sip:{primary[0]}:{primary[1]}";',
              '        t_on_failure("CARRIER");',
              "        t_relay();",
              "        exit;",
              "    }",
              '    sl_send_reply("403", "Forbidden");  # neither the carrier nor your PBX',
              "}",
              "",
              "failure_route[CARRIER] {",
              "    if (t_is_canceled()) {",
              "        exit;",
              "    }"]
    if f.auth == "proxy":
        lines += ['    if (t_check_status("401|407")) {  # the carrier challenges: answer once',
                  "        if (uac_auth()) {",
                  "            t_relay();",
                  "        }",
                  "        exit;",
                  "    }"]
    if others:
        second = others[0]
        lines += [f'    if (t_check_status("408|503") && $du != "sip:{second[0]}:{second[1]}") {{  # the other address',
                  f'        $du = "sip:{second[0]}:{second[1]}";',
                  "        t_relay();",
                  "    }"]
    lines += ["}"]
    return [ConfigFile("kamailio.cfg", "\n".join(lines) + "\n", not f.token_masked and f.auth != "ip")]


# ---------------------------------------------------------------------------- baresip

def _baresip(f: Facts) -> list[ConfigFile]:
    kamailio = f.auth == "header"
    ip, port = f.behind if kamailio else f.listen
    block = ip.rsplit(".", 1)[0]
    config = _header(f, "#", "baresip 1.0 as a small headless PBX", carries_token=False) + [
        "# It answers every call to your numbers at once, plays a 440 Hz tone as its greeting, and",
        "# records what it hears (dump-*-dec.wav in this folder). Run: baresip -f THIS_FOLDER, then type",
        f"# /dial {PSTN_TEST_NUMBER} to call out and /hangup to end the call; or drive it over TCP at",
        f"# {ip}:{BARESIP_CONTROL_PORT} (netstrings: {{\"command\":\"dial\",\"params\":\"{PSTN_TEST_NUMBER}\"}}).",
    ]
    if kamailio:
        config += [f"# baresip 1.0 cannot add SIP headers: its calls leave through the Kamailio of",
                   f"# `pbx-config kamailio --auth header` at {f.listen[0]}:{f.listen[1]}, which adds them; it listens",
                   "# behind that Kamailio."]
    config += [
        "",
        "poll_method epoll",
        f"sip_listen {ip}:{port}",
        f"net_interface {ip}",
        "# calls go to IP addresses: no DNS is needed, and none leaves the machine",
        f"dns_server {block}.1:53",
        "call_local_timeout 120",
        "call_max_calls 4",
        "audio_source ausine,440",
        "ausrc_srate 48000",
        "ausrc_channels 2",
        "audio_buffer 20-160",
        f"rtp_ports {port + 10000}-{port + 10039}",
        "rtcp_mux no",
        "jitter_buffer_delay 1-10",
        "module_path /usr/lib/baresip/modules",
        "module g711.so",
        "module ausine.so",
        "module sndfile.so",
        "snd_path .",
        "# stdio: type commands (/dial NUMBER, /hangup, /quit)",
        "module stdio.so",
        "module_app account.so",
        "module_app menu.so",
        "module_app ctrl_tcp.so",
        f"ctrl_tcp_listen {ip}:{BARESIP_CONTROL_PORT}",
    ]
    params = ["regint=0", "answermode=auto", "audio_codecs=PCMU,PCMA"]
    if f.auth == "proxy":
        params += [f"auth_user={f.endpoint_sid}", f"auth_pass={f.voip_token}"]
    if kamailio:
        params.append(f'outbound="sip:{f.listen[0]}:{f.listen[1]};lr"')
    gateway = f"{f.gateways[0][0]}:{f.gateways[0][1]}"
    accounts = _header(f, "#", "baresip accounts", carries_token=f.auth == "proxy") + [
        "# one account per number: an inbound call to a number is answered by its account; the first",
        f"# account places the calls (dial {PSTN_TEST_NUMBER} -> sip:{PSTN_TEST_NUMBER}@{gateway}). baresip sends to",
        "# one gateway address: if it is down, change it to the other one.",
    ]
    accounts += [f"<sip:{did}@{gateway}>;{';'.join(params)}" for did in (f.dids or (f.caller_id,))]
    return [ConfigFile("config", "\n".join(config) + "\n"),
            ConfigFile("accounts", "\n".join(accounts) + "\n", not f.token_masked and f.auth == "proxy")]


# ---------------------------------------------------------------------------- linphone

def _linphone(f: Facts) -> list[ConfigFile]:
    kamailio = f.auth == "header"
    ip, port = f.behind if kamailio else f.listen
    gateway = f.listen if kamailio else f.gateways[0]
    lines = _header(f, "#", "linphonec (linphone-cli 5.1)", carries_token=f.auth == "proxy") + [
        "# Run: linphonec -c THIS_FILE -a   (-a answers every call at once)",
        f"# Call out: call sip:{PSTN_TEST_NUMBER}@{f.gateways[0][0]}",
    ]
    if kamailio:
        lines += ["# linphonec cannot add SIP headers: its calls leave through the Kamailio of",
                  f"# `pbx-config kamailio --auth header` at {f.listen[0]}:{f.listen[1]}, which adds them."]
    lines += [
        "",
        "[sip]",
        f"bind_address={ip}",
        f"sip_port={port}",
        "sip_tcp_port=0",
        "sip_tls_port=0",
        "guess_hostname=0",
        f"contact=sip:{f.caller_id}@{ip}:{port}",
        "default_proxy=0",
        "register_only_when_network_is_up=0",
        "auto_net_state_mon=0",  # loopback only: no network interface to wait for
        "ipv6=0",
        "",
        "[rtp]",
        f"bind_address={ip}",
        f"audio_rtp_port={LINPHONE_RTP_PORT}",
        "",
        "[net]",
        "firewall_policy=0",
        "",
        "[proxy_0]",
        f"reg_proxy=<sip:{gateway[0]}:{gateway[1]};transport=udp>",
        f"reg_route=<sip:{gateway[0]}:{gateway[1]};transport=udp;lr>",
        f"reg_identity=sip:{f.caller_id}@{f.gateways[0][0]}",
        "reg_sendregister=0",
        "publish=0",
        "dial_escape_plus=0",
        "quality_reporting_enabled=0",
    ]
    if f.auth == "proxy":
        # linphone finds credentials by the identity's user (the number) and the realm, and
        # answers the challenge with userid: the endpoint SID
        lines += ["", "[auth_info_0]", f"username={f.caller_id}", f"userid={f.endpoint_sid}",
                  f"passwd={f.voip_token}", f"realm={f.realm}", f"domain={f.gateways[0][0]}"]
    return [ConfigFile("linphonerc", "\n".join(lines) + "\n", not f.token_masked and f.auth == "proxy")]

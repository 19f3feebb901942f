"""Input validation: pure functions that return the normalised value or raise ValidationError.

Addresses go through `ipaddress` and phone numbers through `phonenumbers`, never through
regexes. The messages are written for a trainee at a keyboard.
"""

from __future__ import annotations

import ipaddress

import phonenumbers

from .errors import ValidationError
from .records import CODEC_CHOICES, DIRECTIONS, FIREWALL_PROTOCOLS, TRANSPORTS

MAX_NAME = 64
MAX_COUNT = 1_000_000  # priorities, weights, capacities: far beyond any lab, far below SQLite's limit
MAX_ADDRESS = 43  # the longest IPv4 CIDR is 18 characters; a longer text is not an address to echo back
MAX_PHONE_TEXT = 32  # E.164 has 15 digits at most; room for '+', spaces, dashes and brackets


def _ipv4_network(text: object, field: str) -> ipaddress.IPv4Network:
    """Parse an address or a CIDR subnet into a network (an address becomes a /32)."""
    raw = str(text if text is not None else "").strip()
    if not raw:
        raise ValidationError(f"{field}: enter an IPv4 address or a CIDR subnet such as 10.0.0.0/24", field=field)
    if len(raw) > MAX_ADDRESS:
        raise ValidationError(f"{field}: {raw[:20]!r}... is too long for an IPv4 address or CIDR subnet", field=field)
    try:
        net = ipaddress.ip_network(raw, strict=True)
    except ValueError:
        try:  # host bits set: say which network was probably meant
            loose = ipaddress.ip_network(raw, strict=False)
        except ValueError:
            raise ValidationError(
                f"{field}: {raw!r} is not an IPv4 address or CIDR subnet (examples: 127.0.0.10, 10.0.0.0/24)",
                field=field,
            ) from None
        raise ValidationError(
            f"{field}: {raw} has host bits set; did you mean {loose}?", field=field
        ) from None
    if net.version != 4:
        raise ValidationError(f"{field}: {raw} is IPv6; this lab's agents speak IPv4 only", field=field)
    _refuse_unusable(net, raw, field)
    return net


def _refuse_unusable(net: ipaddress.IPv4Network, raw: str, field: str) -> None:
    # The lab sends traffic to loopback only; private ranges are accepted so a trainee can
    # model a real office network, public ones are refused so nothing here points off-box.
    first = net.network_address
    if first.is_unspecified:
        raise ValidationError(f"{field}: {raw} is the unspecified address; name a real host or subnet", field=field)
    if first.is_multicast or first.is_reserved or net.broadcast_address == ipaddress.IPv4Address("255.255.255.255"):
        raise ValidationError(f"{field}: {raw} is a multicast, reserved or broadcast address", field=field)
    if not (net.is_loopback or net.is_private or net.is_link_local):
        raise ValidationError(
            f"{field}: {raw} is a public address; trunklab only uses loopback (127.0.0.0/8) "
            "and private ranges (10/8, 172.16/12, 192.168/16)",
            field=field,
        )


def ip_or_cidr(text: object, field: str = "ip") -> str:
    """An endpoint address: a single IPv4 address ('127.0.0.10') or a subnet ('10.1.0.0/16')."""
    net = _ipv4_network(text, field)
    return str(net.network_address) if net.prefixlen == 32 else str(net)


def cidr(text: object, field: str = "cidr") -> str:
    """A firewall rule or IP restriction, always written as a CIDR ('127.0.0.2/32')."""
    return str(_ipv4_network(text, field))


MAX_IP_RESTRICTIONS = 16
MAX_IP_RESTRICTIONS_TEXT = MAX_IP_RESTRICTIONS * 20  # as typed: 'a.b.c.d/nn, ' each


def ip_restrictions(values: object, field: str = "ip_restrictions") -> tuple[str, ...]:
    """An endpoint's IP/subnet restrictions: CIDRs, each once, at most MAX_IP_RESTRICTIONS."""
    items = [values] if isinstance(values, str) else list(values or ())
    if len(items) > MAX_IP_RESTRICTIONS:
        raise ValidationError(f"{field}: {len(items)} subnets; keep it to {MAX_IP_RESTRICTIONS} "
                              "(a wider subnet covers several)", field=field)
    chosen: list[str] = []
    for item in items:
        value = cidr(item, field)
        if value in chosen:
            raise ValidationError(f"{field}: {value} is listed twice", field=field)
        chosen.append(value)
    return tuple(chosen)


def ip_address(text: object, field: str = "ip") -> str:
    """A single IPv4 address (a host the lab binds or sends to)."""
    net = _ipv4_network(text, field)
    if net.prefixlen != 32:
        raise ValidationError(f"{field}: {text} is a subnet; a single address is needed here", field=field)
    return str(net.network_address)


def loopback_address(text: object, field: str = "ip") -> str:
    """An address a lab agent may bind: it must be inside 127.0.0.0/8."""
    ip = ip_address(text, field)
    if not ipaddress.IPv4Address(ip).is_loopback:
        raise ValidationError(f"{field}: {ip} is not a loopback address; lab parties live in 127.0.0.0/8", field=field)
    return ip


def port(value: object, field: str = "port") -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationError(f"{field}: {value!r} is not a port number; use 1-65535 (SIP's default is 5060)", field=field) from None
    if not 1 <= number <= 65535:
        raise ValidationError(f"{field}: port {number} is out of range; use 1-65535 (SIP's default is 5060)", field=field)
    return number


def phonenumber(text: object, field: str = "phonenumber") -> str:
    """A phone number in E.164 digits without '+' (CarrierX's form), e.g. '12025550100'.

    Accepts '+1 202 555 0100', '12025550100', '+1 (202) 555-0100'. A number without '+' is read
    as already starting with its country code, as CarrierX writes numbers.
    """
    raw = str(text if text is not None else "").strip()
    if not raw:
        raise ValidationError(f"{field}: enter a phone number in international form, e.g. +1 202 555 0100", field=field)
    if len(raw) > MAX_PHONE_TEXT:
        raise ValidationError(f"{field}: {raw[:20]!r}... is too long for a phone number (E.164 has 15 digits at most)",
                              field=field)
    if any(ch.isalpha() for ch in raw):  # phonenumbers would read letters as a vanity number
        raise ValidationError(
            f"{field}: {raw!r} is not a phone number; use digits in international form, e.g. +1 202 555 0100",
            field=field,
        )
    candidate = raw if raw.startswith("+") else "+" + raw
    try:
        parsed = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            f"{field}: {raw!r} is not a phone number; use international form with the country code, e.g. +1 202 555 0100",
            field=field,
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            f"{field}: {raw} is not a valid number for its country (check the country code and the digit count)",
            field=field,
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def display_phonenumber(digits: str) -> str:
    """'12025550100' -> '+1 202-555-0100' (falls back to '+digits' if it no longer parses)."""
    try:
        parsed = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return "+" + digits
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def name(text: object, field: str = "name") -> str:
    value = str(text if text is not None else "").strip()
    if not value:
        raise ValidationError(f"{field}: a name is required", field=field)
    if len(value) > MAX_NAME:
        raise ValidationError(f"{field}: keep it under {MAX_NAME} characters (it has {len(value)})", field=field)
    if any(not ch.isprintable() for ch in value):
        raise ValidationError(f"{field}: control characters are not allowed in a name", field=field)
    return value


def label(text: object, field: str = "name") -> str:
    """A name that may be empty (a phone number's name, a firewall rule's note)."""
    value = str(text if text is not None else "").strip()
    if len(value) > MAX_NAME:
        raise ValidationError(f"{field}: keep it under {MAX_NAME} characters (it has {len(value)})", field=field)
    if any(not ch.isprintable() for ch in value):
        raise ValidationError(f"{field}: control characters are not allowed here", field=field)
    return value


def non_negative_int(value: object, field: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationError(f"{field}: {value!r} is not a whole number", field=field) from None
    if number < 0:
        raise ValidationError(f"{field}: must be 0 or more (got {number})", field=field)
    if number > MAX_COUNT:
        raise ValidationError(f"{field}: must be at most {MAX_COUNT} (got {number})", field=field)
    return number


def one_of(value: object, allowed: tuple[str, ...], field: str) -> str:
    text = str(value if value is not None else "").strip().lower()
    if text not in allowed:
        raise ValidationError(f"{field}: {value!r} is not one of {', '.join(allowed)}", field=field)
    return text


def direction(value: object) -> str:
    return one_of(value, DIRECTIONS, "direction")


def transport(value: object) -> str:
    return one_of(value, TRANSPORTS, "transport")


def firewall_protocol(value: object) -> str:
    return one_of(value, FIREWALL_PROTOCOLS, "protocol")


MAX_RULE_TEXT = 40  # '255.255.255.255/32 any' is 22: room for spaces, none for a paragraph


def firewall_rule(text: object, field: str = "rule") -> tuple[str, str]:
    """A rule as typed on one line, 'ADDRESS[/BITS] [sip|rtp|any]', as (cidr, protocol).
    A word more is refused, not dropped: '127.0.0.5 sip extra' would otherwise save a rule
    that is not the one the trainee meant."""
    raw = str(text if text is not None else "").strip()
    if len(raw) > MAX_RULE_TEXT:
        raise ValidationError(f"{field}: keep it under {MAX_RULE_TEXT} characters: an address, then sip, rtp "
                              "or any", field=field)
    words = raw.split()
    if len(words) > 2:
        extra = " ".join(words[2:])
        raise ValidationError(f"{field}: {extra!r} is one word too many; write an address, then sip, rtp "
                              "or any (e.g. 127.0.0.3 sip)", field=field)
    source = cidr(words[0] if words else "", field)
    return source, firewall_protocol(words[1]) if len(words) == 2 else "any"


MAX_CREDENTIAL = 128


def credential(text: object, field: str) -> str:
    """An endpoint SID or VoIP token typed into the PBX. Any value is allowed (a wrong one is a
    lesson: the gateway answers 401), but it goes into SIP headers, so it must be one printable
    word: a space or a line break would break, or inject into, the INVITE."""
    value = str(text if text is not None else "").strip()
    if not value:
        raise ValidationError(f"{field}: required (copy it from Endpoints -> Endpoint Details)", field=field)
    if len(value) > MAX_CREDENTIAL:
        raise ValidationError(f"{field}: keep it under {MAX_CREDENTIAL} characters (it has {len(value)})", field=field)
    if any(ch.isspace() or not ch.isprintable() or ch in '",;<>' for ch in value):
        raise ValidationError(f"{field}: {value[:40]!r} has spaces, quotes or separators; SIDs and tokens have none",
                              field=field)
    return value


def codecs(values: object, field: str = "codecs") -> tuple[str, ...]:
    """One or more of CODEC_CHOICES, in the PBX's order of preference, each once."""
    items = [values] if isinstance(values, str) else list(values or ())
    if not items:
        raise ValidationError(f"{field}: choose at least one of {', '.join(CODEC_CHOICES)}", field=field)
    by_lower = {c.lower(): c for c in CODEC_CHOICES}
    chosen: list[str] = []
    for item in items:
        codec = by_lower.get(str(item).strip().lower())
        if codec is None:
            raise ValidationError(f"{field}: {item!r} is not one of {', '.join(CODEC_CHOICES)}", field=field)
        if codec in chosen:
            raise ValidationError(f"{field}: {codec} is listed twice", field=field)
        chosen.append(codec)
    return tuple(chosen)

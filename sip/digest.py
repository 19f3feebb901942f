"""HTTP digest authentication as SIP uses it (RFC 2617, RFC 7616, RFC 3261 22).

The flow this module supports, from the gateway's side:

  1. A request arrives without credentials. The gateway answers 401/407 with
     DigestChallenge(realm, nonce).to_header().
  2. The caller retries with an Authorization / Proxy-Authorization header.
     The gateway runs parse_credentials() on it, checks the nonce (one-time
     nonces: sip/nonces.py), then verify_credentials() with the user's password.

Everything here is a pure function of its arguments: no clock, no randomness,
no stored state. Only qop=auth and no qop are supported (not auth-int), and
only the MD5 and SHA-256 algorithms (not the -sess variants).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

__all__ = [
    "DigestChallenge",
    "DigestCredentials",
    "DigestError",
    "digest_response",
    "parse_challenge",
    "parse_credentials",
    "verify_credentials",
]


class DigestError(ValueError):
    """A digest header or parameter we cannot use."""


# Canonical algorithm name -> hashlib name. Lookups are case-insensitive.
ALGORITHMS: dict[str, str] = {"MD5": "md5", "SHA-256": "sha256"}
SUPPORTED_QOP = "auth"

_CREDENTIAL_REQUIRED = ("username", "realm", "nonce", "uri", "response")
_CHALLENGE_REQUIRED = ("realm", "nonce")


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestChallenge:
    """What the server sends in WWW-Authenticate / Proxy-Authenticate."""

    realm: str
    nonce: str
    opaque: str | None = None
    algorithm: str = "MD5"
    qop: str | None = None  # "auth" or None
    stale: bool = False  # True: the password was fine, only the nonce expired

    def to_header(self) -> str:
        """The header value, e.g. 'Digest realm="trunk", nonce="...", algorithm=MD5'."""
        parts = [f"realm={_quote(self.realm)}", f"nonce={_quote(self.nonce)}"]
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque)}")
        # RFC 7616: algorithm is a bare token, qop a quoted list in challenges.
        parts.append(f"algorithm={self.algorithm}")
        if self.qop is not None:
            parts.append(f"qop={_quote(self.qop)}")
        if self.stale:
            parts.append("stale=true")
        return "Digest " + ", ".join(parts)


@dataclass(frozen=True)
class DigestCredentials:
    """What the client sends back in Authorization / Proxy-Authorization."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str | None = None
    nc: str | None = None  # nonce count, 8 hex digits, e.g. "00000001"
    cnonce: str | None = None  # client nonce
    opaque: str | None = None

    def to_header(self) -> str:
        """The header value a client would send (handy for tests and for
        simulating a caller). nc, qop and algorithm stay unquoted (RFC 7616)."""
        parts = [
            f"username={_quote(self.username)}",
            f"realm={_quote(self.realm)}",
            f"nonce={_quote(self.nonce)}",
            f"uri={_quote(self.uri)}",
            f"response={_quote(self.response)}",
            f"algorithm={self.algorithm}",
        ]
        if self.qop is not None:
            parts.append(f"qop={self.qop}")
        if self.nc is not None:
            parts.append(f"nc={self.nc}")
        if self.cnonce is not None:
            parts.append(f"cnonce={_quote(self.cnonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque)}")
        return "Digest " + ", ".join(parts)


def _quote(value: str) -> str:
    """Make a quoted-string: backslash-escape the two characters that need it."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# --------------------------------------------------------------------------
# Parsing 'Digest name=value, name="quoted value", ...'
# --------------------------------------------------------------------------

_SEPARATORS = frozenset('()<>@,;:\\"/[]?={} \t\r\n')
# A set, not a string: '"" in " \t"' is True and would stall the scanner at the end.
_WHITESPACE = frozenset(" \t\r\n")


def _is_token_char(char: str) -> bool:
    # RFC 7230 tchar: visible ASCII except separators.
    return "!" <= char <= "~" and char not in _SEPARATORS


class _Scanner:
    """A cursor over a string, with the few moves the auth-param grammar needs."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if not self.at_end() else ""

    def take(self, char: str) -> bool:
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def skip_whitespace(self) -> None:
        while self.peek() in _WHITESPACE:
            self.pos += 1

    def skip_separators(self) -> None:
        # Empty list elements (", ,") are allowed by the '#rule' list syntax.
        while self.peek() in _WHITESPACE or self.peek() == ",":
            self.pos += 1

    def read_token(self) -> str:
        start = self.pos
        while not self.at_end() and _is_token_char(self.peek()):
            self.pos += 1
        return self.text[start : self.pos]

    def read_bare(self) -> str:
        """An unquoted value. RFC says token, but some clients send e.g.
        uri=sip:host unquoted, so accept anything up to a comma or space."""
        start = self.pos
        while self.peek() not in ("", ",", '"') and self.peek() not in _WHITESPACE:
            self.pos += 1
        return self.text[start : self.pos]

    def read_quoted(self) -> str:
        """Read a quoted-string starting at the opening quote; unescape it."""
        self.pos += 1  # opening quote
        chars: list[str] = []
        while not self.at_end():
            char = self.text[self.pos]
            self.pos += 1
            if char == '"':
                return "".join(chars)
            if char == "\\" and not self.at_end():
                char = self.text[self.pos]
                self.pos += 1
            chars.append(char)
        raise DigestError(f"unterminated quoted string in {self.text!r}")


def _strip_scheme(value: str) -> str:
    """'Digest realm="x"' -> 'realm="x"'; any scheme other than Digest is an error."""
    text = value.strip()
    if not text:
        raise DigestError("empty authentication header: expected 'Digest ...'")
    parts = text.split(maxsplit=1)  # any whitespace, even a folded line break
    scheme = parts[0]
    rest = parts[1] if len(parts) > 1 else ""
    if scheme.lower() != "digest":
        raise DigestError(
            f"authentication scheme is {scheme!r}, expected 'Digest' "
            "(SIP only uses digest authentication)"
        )
    return rest


def _parse_auth_params(text: str) -> dict[str, str]:
    """Parse 'a=1, b="x, \\"y\\""' into {'a': '1', 'b': 'x, "y"'}.

    Names are lower-cased. Quoted values may contain commas, and a backslash
    escapes the next character. A parameter given twice is an error, since
    RFC 7616 allows each at most once and a repeat smells of tampering.
    """
    params: dict[str, str] = {}
    scanner = _Scanner(text)
    while True:
        scanner.skip_separators()
        if scanner.at_end():
            return params
        name = scanner.read_token()
        if not name:
            raise DigestError(
                f"expected a parameter name at position {scanner.pos} in {text!r}"
            )
        scanner.skip_whitespace()
        if not scanner.take("="):
            raise DigestError(f"parameter {name!r} has no '=value' in {text!r}")
        scanner.skip_whitespace()
        value = scanner.read_quoted() if scanner.peek() == '"' else scanner.read_bare()
        key = name.lower()
        if key in params:
            raise DigestError(f"parameter {key!r} appears more than once")
        params[key] = value
        scanner.skip_whitespace()
        if not scanner.at_end() and scanner.peek() != ",":
            raise DigestError(
                f"expected ',' after parameter {key!r} at position {scanner.pos} "
                f"in {text!r} (values with spaces must be in double quotes)"
            )


def _require(params: dict[str, str], names: tuple[str, ...], what: str) -> None:
    missing = [name for name in names if not params.get(name)]
    if missing:
        raise DigestError(
            f"{what} is missing required parameter(s): {', '.join(missing)} "
            "(an empty value counts as missing)"
        )


def _canonical_algorithm(name: str | None) -> str:
    """'md5' -> 'MD5', 'sha-256' -> 'SHA-256'; absent means MD5 (RFC 2617)."""
    if name is None:
        return "MD5"
    for canonical in ALGORITHMS:
        if canonical.lower() == name.lower():
            return canonical
    raise DigestError(
        f"unsupported digest algorithm {name!r}; supported: {', '.join(ALGORITHMS)}"
    )


def parse_challenge(value: str) -> DigestChallenge:
    """Parse a WWW-Authenticate / Proxy-Authenticate header value."""
    params = _parse_auth_params(_strip_scheme(value))
    _require(params, _CHALLENGE_REQUIRED, "challenge")
    return DigestChallenge(
        realm=params["realm"],
        nonce=params["nonce"],
        opaque=params.get("opaque"),
        algorithm=_canonical_algorithm(params.get("algorithm")),
        qop=_choose_challenge_qop(params.get("qop")),
        stale=params.get("stale", "false").lower() == "true",
    )


def _choose_challenge_qop(offered: str | None) -> str | None:
    """A challenge may offer several qop values ('auth,auth-int'); pick auth."""
    if offered is None:
        return None
    options = [option.strip().lower() for option in offered.split(",")]
    if SUPPORTED_QOP in options:
        return SUPPORTED_QOP
    raise DigestError(f"challenge offers qop={offered!r}; only 'auth' is supported")


def parse_credentials(value: str) -> DigestCredentials:
    """Parse an Authorization / Proxy-Authorization header value."""
    params = _parse_auth_params(_strip_scheme(value))
    _require(params, _CREDENTIAL_REQUIRED, "credentials")
    qop = params.get("qop")
    if qop is not None and qop.lower() != SUPPORTED_QOP:
        raise DigestError(f"credentials use qop={qop!r}; only 'auth' is supported")
    return DigestCredentials(
        username=params["username"],
        realm=params["realm"],
        nonce=params["nonce"],
        uri=params["uri"],
        response=params["response"],
        algorithm=_canonical_algorithm(params.get("algorithm")),
        qop=qop.lower() if qop is not None else None,
        nc=params.get("nc"),
        cnonce=params.get("cnonce"),
        opaque=params.get("opaque"),
    )


# --------------------------------------------------------------------------
# Computing and checking the response
# --------------------------------------------------------------------------


def _hash(algorithm: str, text: str) -> str:
    return hashlib.new(ALGORITHMS[algorithm], text.encode("utf-8")).hexdigest()


def digest_response(
    *,
    method: str,
    uri: str,
    username: str,
    realm: str,
    password: str,
    nonce: str,
    algorithm: str = "MD5",
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The hex 'response' value a client computes (RFC 7616 section 3.4.1).

    HA1 = H(username:realm:password), HA2 = H(method:uri), then
    with qop=auth: H(HA1:nonce:nc:cnonce:auth:HA2); without: H(HA1:nonce:HA2).
    """
    algorithm = _canonical_algorithm(algorithm)
    ha1 = _hash(algorithm, f"{username}:{realm}:{password}")
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop is None:
        return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")
    if qop.lower() != SUPPORTED_QOP:
        raise DigestError(f"unsupported qop {qop!r}; only 'auth' is supported")
    if not nc or not cnonce:
        raise DigestError("qop=auth needs both nc and cnonce")
    return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{SUPPORTED_QOP}:{ha2}")


def verify_credentials(
    creds: DigestCredentials,
    *,
    method: str,
    password: str,
    expected_realm: str,
    expected_nonce: str,
) -> bool:
    """True only if the credentials prove knowledge of password.

    The uri is hashed exactly as the client sent it in the credentials: SIPp,
    for one, puts 'sip:host:port' there rather than the full Request-URI.
    Never raises on bad input from the client: a wrong anything is just False.
    """
    if creds.realm != expected_realm or creds.nonce != expected_nonce:
        return False
    if creds.qop is not None and (not creds.nc or not creds.cnonce):
        return False
    try:
        expected = digest_response(
            method=method,
            uri=creds.uri,
            username=creds.username,
            realm=creds.realm,
            password=password,
            nonce=creds.nonce,
            algorithm=creds.algorithm,
            qop=creds.qop,
            nc=creds.nc,
            cnonce=creds.cnonce,
        )
    except DigestError:
        return False  # e.g. an algorithm we do not support
    # Compare as bytes: compare_digest raises TypeError on non-ASCII str.
    received = creds.response.lower().encode("utf-8")
    return hmac.compare_digest(expected.encode("ascii"), received)

"""Tests for sip.digest: RFC vectors, header parsing, verification, nonces."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from sip.digest import (
    DigestChallenge,
    DigestCredentials,
    DigestError,
    digest_response,
    parse_challenge,
    parse_credentials,
    verify_credentials,
)

# --------------------------------------------------------------------------
# Known vectors
# --------------------------------------------------------------------------

# RFC 2617 section 3.5, exactly as printed (line breaks and all).
RFC2617_CHALLENGE = """Digest
                 realm="testrealm@host.com",
                 qop="auth,auth-int",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41\""""

RFC2617_AUTHORIZATION = """Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41\""""

RFC2617 = dict(
    method="GET", uri="/dir/index.html", username="Mufasa", realm="testrealm@host.com",
    password="Circle Of Life", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
    qop="auth", nc="00000001", cnonce="0a4f113b",
)

# RFC 7616 section 3.9.1. Note the password there is "Circle of Life" (lower-case
# "of"), unlike RFC 2617's "Circle Of Life".
RFC7616 = dict(
    method="GET", uri="/dir/index.html", username="Mufasa", realm="http-auth@example.org",
    password="Circle of Life", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    qop="auth", nc="00000001", cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
)
RFC7616_MD5 = "8ca523f5e9506fed4657c9700eebdbec"
RFC7616_SHA256 = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"

RFC7616_SHA256_AUTHORIZATION = """Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=SHA-256,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
       opaque="FQhe/qaU925kfnJGbSeCrPZFtzBmo1Mpvg7ZGeWs47uaYjEw\""""


def test_rfc2617_response_vector():
    assert digest_response(**RFC2617) == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize("algorithm, expected", [
    ("MD5", RFC7616_MD5),
    ("md5", RFC7616_MD5),
    ("SHA-256", RFC7616_SHA256),
    ("sha-256", RFC7616_SHA256),
])
def test_rfc7616_response_vectors(algorithm, expected):
    assert digest_response(**RFC7616, algorithm=algorithm) == expected


def test_no_qop_uses_the_rfc2069_formula():
    # Computed by hand here so the test does not trust the module's helpers.
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    ha1 = md5("1001:trunklab:s3cret")
    ha2 = md5("INVITE:sip:127.0.0.2:5060")
    expected = md5(f"{ha1}:abc123:{ha2}")
    assert digest_response(method="INVITE", uri="sip:127.0.0.2:5060", username="1001",
                           realm="trunklab", password="s3cret", nonce="abc123") == expected


def test_sha256_no_qop():
    sha = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731
    ha1 = sha("u:r:p")
    ha2 = sha("BYE:sip:h")
    assert digest_response(method="BYE", uri="sip:h", username="u", realm="r", password="p",
                           nonce="n", algorithm="SHA-256") == sha(f"{ha1}:n:{ha2}")


@pytest.mark.parametrize("field, value", [
    ("method", "POST"), ("uri", "/dir/other.html"), ("username", "mufasa"),
    ("realm", "testrealm@host.org"), ("password", "Circle of Life"),
    ("nonce", "dcd98b7102dd2f0e8b11d0f600bfb0c094"), ("nc", "00000002"),
    ("cnonce", "0a4f113c"),
])
def test_every_input_changes_the_response(field, value):
    changed = dict(RFC2617, **{field: value})
    assert digest_response(**changed) != "6629fae49393a05397450978507c4ef1"


def test_response_is_lowercase_hex_of_the_right_length():
    md5 = digest_response(**RFC2617)
    sha = digest_response(**RFC2617, algorithm="SHA-256")
    assert len(md5) == 32 and len(sha) == 64
    assert set(md5 + sha) <= set("0123456789abcdef")


@pytest.mark.parametrize("algorithm", ["SHA-512-256", "MD5-sess", "SHA-256-sess", "sha1", ""])
def test_unknown_algorithm_is_an_error(algorithm):
    with pytest.raises(DigestError, match="unsupported digest algorithm"):
        digest_response(**RFC2617, algorithm=algorithm)


@pytest.mark.parametrize("missing", ["nc", "cnonce"])
def test_qop_auth_needs_nc_and_cnonce(missing):
    args = dict(RFC2617, **{missing: None})
    with pytest.raises(DigestError, match="needs both nc and cnonce"):
        digest_response(**args)


def test_qop_auth_int_is_not_supported():
    with pytest.raises(DigestError, match="only 'auth'"):
        digest_response(**dict(RFC2617, qop="auth-int"))


def test_non_ascii_password_is_hashed_as_utf8():
    md5 = lambda s: hashlib.md5(s.encode("utf-8")).hexdigest()  # noqa: E731
    expected = md5(f"{md5('u:r:pässwörd')}:n:{md5('INVITE:sip:h')}")
    assert digest_response(method="INVITE", uri="sip:h", username="u", realm="r",
                           password="pässwörd", nonce="n") == expected


# --------------------------------------------------------------------------
# Parsing challenges
# --------------------------------------------------------------------------


def test_parse_rfc2617_challenge():
    challenge = parse_challenge(RFC2617_CHALLENGE)
    assert challenge == DigestChallenge(
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        opaque="5ccc069c403ebaf9f0171e9517f40e41",
        algorithm="MD5",
        qop="auth",  # picked out of "auth,auth-int"
        stale=False,
    )


def test_parse_rfc7616_sha256_challenge():
    value = """Digest
       realm="http-auth@example.org",
       qop="auth, auth-int",
       algorithm=SHA-256,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       opaque="FQhe/qaU925kfnJGbSeCrPZFtzBmo1Mpvg7ZGeWs47uaYjEw\""""
    challenge = parse_challenge(value)
    assert challenge.algorithm == "SHA-256"
    assert challenge.qop == "auth"
    assert challenge.opaque == "FQhe/qaU925kfnJGbSeCrPZFtzBmo1Mpvg7ZGeWs47uaYjEw"


def test_parse_minimal_challenge_defaults():
    challenge = parse_challenge('Digest realm="trunklab", nonce="n1"')
    assert challenge == DigestChallenge(realm="trunklab", nonce="n1")
    assert challenge.algorithm == "MD5"
    assert challenge.qop is None
    assert challenge.opaque is None
    assert challenge.stale is False


@pytest.mark.parametrize("stale_text, stale", [
    ("true", True), ("TRUE", True), ("True", True), ('"true"', True),
    ("false", False), ("FALSE", False), ("nonsense", False),
])
def test_parse_stale(stale_text, stale):
    value = f'Digest realm="r", nonce="n", stale={stale_text}'
    assert parse_challenge(value).stale is stale


@pytest.mark.parametrize("scheme", ["Digest", "digest", "DIGEST", "DiGeSt"])
def test_scheme_is_case_insensitive(scheme):
    assert parse_challenge(f'{scheme} realm="r", nonce="n"').realm == "r"


@pytest.mark.parametrize("value", [
    'Digest REALM="r", NONCE="n", Algorithm=sha-256, QOP="AUTH"',
    'Digest Realm="r", Nonce="n", ALGORITHM=SHA-256, Qop=auth',
])
def test_parameter_names_are_case_insensitive(value):
    challenge = parse_challenge(value)
    assert (challenge.realm, challenge.nonce) == ("r", "n")
    assert challenge.algorithm == "SHA-256"
    assert challenge.qop == "auth"


@pytest.mark.parametrize("value", [
    'Digest realm="r",nonce="n"',
    'Digest realm = "r" , nonce = "n"',
    'Digest\trealm="r",\tnonce="n"',
    'Digest\r\n realm="r",\r\n nonce="n"',
    '  Digest realm="r", nonce="n"  ',
    'Digest , realm="r", , nonce="n",',
    'Digest realm=r, nonce=n',
])
def test_whitespace_and_empty_list_elements_are_tolerated(value):
    challenge = parse_challenge(value)
    assert (challenge.realm, challenge.nonce) == ("r", "n")


@pytest.mark.parametrize("quoted, plain", [
    ('"a, b"', "a, b"),
    ('"a,b,c=d"', "a,b,c=d"),
    ('"say \\"hi\\""', 'say "hi"'),
    ('"back\\\\slash"', "back\\slash"),
    ('"\\q"', "q"),  # any character may be escaped
    ('""', ""),
    ('"spaces  inside"', "spaces  inside"),
    ('"ünïcode"', "ünïcode"),
])
def test_quoted_values(quoted, plain):
    challenge = parse_challenge(f'Digest realm="r", nonce="n", opaque={quoted}')
    assert challenge.opaque == plain
    if plain:  # realm="" would count as missing
        assert parse_challenge(f'Digest realm={quoted}, nonce="n"').realm == plain


def test_unknown_parameters_are_ignored():
    value = 'Digest realm="r", domain="sip:trunk", nonce="n", charset=UTF-8, userhash=false'
    assert parse_challenge(value) == DigestChallenge(realm="r", nonce="n")


@pytest.mark.parametrize("value, expected", [
    ("", "empty authentication header"),
    ("   ", "empty authentication header"),
    ('Basic realm="r"', "scheme is 'Basic'"),
    ("Bearer abc.def", "scheme is 'Bearer'"),
    ('Digestrealm="r", nonce="n"', "expected 'Digest'"),
    ('realm="r", nonce="n"', "expected 'Digest'"),
    ("Digest", "missing required parameter"),
    ('Digest nonce="n"', "missing required parameter\\(s\\): realm"),
    ('Digest realm="r"', "missing required parameter\\(s\\): nonce"),
    ('Digest realm="", nonce="n"', "realm"),
    ('Digest realm="r", nonce="n', "unterminated quoted string"),
    ('Digest realm="r" nonce="n"', "expected ','"),
    ('Digest realm="r", nonce', "has no '=value'"),
    ('Digest realm="r", nonce "n"', "has no '=value'"),
    ('Digest realm="r", ="n"', "expected a parameter name"),
    ('Digest realm="r", realm="s", nonce="n"', "appears more than once"),
    ('Digest realm="r", REALM="s", nonce="n"', "appears more than once"),
    ('Digest realm="r", nonce="n", algorithm=SHA-512-256', "unsupported digest algorithm"),
    ('Digest realm="r", nonce="n", algorithm=MD5-sess', "unsupported digest algorithm"),
    ('Digest realm="r", nonce="n", qop="auth-int"', "only 'auth'"),
    ('Digest realm="r", nonce="n", qop="auth"x', "expected ','"),
])
def test_bad_challenges(value, expected):
    with pytest.raises(DigestError, match=expected):
        parse_challenge(value)


def test_digest_error_is_a_value_error():
    assert issubclass(DigestError, ValueError)


# --------------------------------------------------------------------------
# Writing challenges
# --------------------------------------------------------------------------


@pytest.mark.parametrize("challenge, header", [
    (DigestChallenge(realm="trunklab", nonce="abc"),
     'Digest realm="trunklab", nonce="abc", algorithm=MD5'),
    (DigestChallenge(realm="trunklab", nonce="abc", qop="auth"),
     'Digest realm="trunklab", nonce="abc", algorithm=MD5, qop="auth"'),
    (DigestChallenge(realm="trunklab", nonce="abc", algorithm="SHA-256", qop="auth",
                     opaque="op", stale=True),
     'Digest realm="trunklab", nonce="abc", opaque="op", algorithm=SHA-256, qop="auth", '
     "stale=true"),
    (DigestChallenge(realm='say "hi"', nonce="a\\b"),
     'Digest realm="say \\"hi\\"", nonce="a\\\\b", algorithm=MD5'),
])
def test_challenge_to_header(challenge, header):
    assert challenge.to_header() == header


@pytest.mark.parametrize("challenge", [
    DigestChallenge(realm="trunklab", nonce="abc"),
    DigestChallenge(realm="trunklab", nonce="abc", qop="auth", stale=True),
    DigestChallenge(realm="a, b", nonce='x"y', opaque="o\\p", algorithm="SHA-256"),
    DigestChallenge(realm=" ", nonce="n"),
    DigestChallenge(realm="trunk lab", nonce="1700000000500.5f0e2b", qop="auth"),
])
def test_challenge_round_trips(challenge):
    assert parse_challenge(challenge.to_header()) == challenge


def test_dataclasses_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DigestChallenge(realm="r", nonce="n").realm = "x"  # type: ignore[misc]
    creds = parse_credentials(RFC2617_AUTHORIZATION)
    with pytest.raises(dataclasses.FrozenInstanceError):
        creds.response = "0" * 32  # type: ignore[misc]


# --------------------------------------------------------------------------
# Parsing credentials
# --------------------------------------------------------------------------


def test_parse_rfc2617_authorization():
    creds = parse_credentials(RFC2617_AUTHORIZATION)
    assert creds == DigestCredentials(
        username="Mufasa",
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        uri="/dir/index.html",
        response="6629fae49393a05397450978507c4ef1",
        algorithm="MD5",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
        opaque="5ccc069c403ebaf9f0171e9517f40e41",
    )


def test_parse_rfc7616_sha256_authorization():
    creds = parse_credentials(RFC7616_SHA256_AUTHORIZATION)
    assert creds.algorithm == "SHA-256"
    assert creds.cnonce == RFC7616["cnonce"]
    assert creds.response == RFC7616_SHA256


def test_parse_sipp_style_credentials():
    # SIPp's [authentication] keyword writes this shape (no qop, uri is sip:host:port).
    value = ('Digest username="1001",realm="trunklab",cnonce="6b8b4567",nc=00000001,'
             'qop=auth,uri="sip:127.0.0.2:5060",nonce="1700000000000.ab",'
             'response="0123456789abcdef0123456789abcdef",algorithm=MD5')
    creds = parse_credentials(value)
    assert creds.username == "1001"
    assert creds.uri == "sip:127.0.0.2:5060"
    assert creds.qop == "auth"
    assert creds.nc == "00000001"


def test_unquoted_uri_is_tolerated():
    value = 'Digest username="u", realm="r", nonce="n", uri=sip:127.0.0.2:5060, response="x"'
    assert parse_credentials(value).uri == "sip:127.0.0.2:5060"


@pytest.mark.parametrize("qop_text", ["auth", '"auth"', "AUTH"])
def test_credentials_qop_normalised(qop_text):
    value = ('Digest username="u", realm="r", nonce="n", uri="sip:h", response="x", '
             f'qop={qop_text}, nc=00000001, cnonce="c"')
    assert parse_credentials(value).qop == "auth"


def test_credentials_round_trip_through_to_header():
    creds = parse_credentials(RFC2617_AUTHORIZATION)
    assert parse_credentials(creds.to_header()) == creds
    header = creds.to_header()
    assert "qop=auth," in header and "nc=00000001," in header  # unquoted, RFC 7616
    assert 'cnonce="0a4f113b"' in header


ALL_FIELDS = {
    "username": '"u"', "realm": '"r"', "nonce": '"n"', "uri": '"sip:h"', "response": '"x"',
}


@pytest.mark.parametrize("missing", list(ALL_FIELDS))
def test_each_missing_credential_parameter_is_named(missing):
    params = ", ".join(f"{k}={v}" for k, v in ALL_FIELDS.items() if k != missing)
    with pytest.raises(DigestError, match=f"missing required parameter\\(s\\): {missing}"):
        parse_credentials(f"Digest {params}")


def test_all_missing_credential_parameters_are_named():
    with pytest.raises(DigestError, match="username, realm, nonce, uri, response"):
        parse_credentials('Digest opaque="o"')


@pytest.mark.parametrize("value, expected", [
    ('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==', "scheme is 'Basic'"),
    ("", "empty"),
    ('Digest username="u", realm="r", nonce="n", uri="sip:h", response="x", qop=auth-int',
     "only 'auth'"),
    ('Digest username="u", realm="r", nonce="n", uri="sip:h", response="x", algorithm=SHA1',
     "unsupported digest algorithm"),
    ('Digest username="u, realm="r", nonce="n", uri="sip:h", response="x"', "expected ','"),
    ('Digest username="u", realm="r", nonce="n", uri="sip:h", response="x',
     "unterminated"),
])
def test_bad_credentials(value, expected):
    with pytest.raises(DigestError, match=expected):
        parse_credentials(value)


# --------------------------------------------------------------------------
# Verifying credentials
# --------------------------------------------------------------------------


def rfc2617_verify(creds: DigestCredentials, **overrides) -> bool:
    args = dict(method="GET", password="Circle Of Life",
                expected_realm="testrealm@host.com",
                expected_nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093")
    args.update(overrides)
    return verify_credentials(creds, **args)


def test_verify_rfc2617_credentials():
    assert rfc2617_verify(parse_credentials(RFC2617_AUTHORIZATION)) is True


def test_verify_rfc7616_sha256_credentials():
    creds = parse_credentials(RFC7616_SHA256_AUTHORIZATION)
    assert verify_credentials(creds, method="GET", password="Circle of Life",
                              expected_realm="http-auth@example.org",
                              expected_nonce=RFC7616["nonce"]) is True


@pytest.mark.parametrize("overrides", [
    {"password": "Circle of Life"},
    {"password": ""},
    {"password": "Circle Of Life "},
    {"method": "POST"},
    {"method": "get"},
    {"expected_realm": "otherrealm"},
    {"expected_realm": "TESTREALM@HOST.COM"},
    {"expected_nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c094"},
    {"expected_nonce": ""},
], ids=lambda o: "-".join(f"{k}={v!r}" for k, v in o.items()))
def test_verify_rejects_wrong_inputs(overrides):
    assert rfc2617_verify(parse_credentials(RFC2617_AUTHORIZATION), **overrides) is False


@pytest.mark.parametrize("change", [
    {"response": "6629fae49393a05397450978507c4ef2"},
    {"response": "6629fae49393a05397450978507c4ef"},
    {"response": ""},
    {"response": "ünïcode-is-not-hex"},
    {"response": "6629fae49393a05397450978507c4ef1" + "00"},
    {"uri": "/dir/other.html"},
    {"username": "mufasa"},
    {"nc": "00000002"},
    {"cnonce": "0a4f113c"},
    {"nc": None},
    {"cnonce": None},
    {"qop": None},
    {"algorithm": "SHA-256"},
    {"algorithm": "SHA-512-256"},
], ids=lambda c: "-".join(f"{k}={v!r}" for k, v in c.items()))
def test_verify_rejects_tampered_credentials(change):
    creds = dataclasses.replace(parse_credentials(RFC2617_AUTHORIZATION), **change)
    assert rfc2617_verify(creds) is False


def test_verify_accepts_uppercase_hex_response():
    creds = parse_credentials(RFC2617_AUTHORIZATION)
    upper = dataclasses.replace(creds, response=creds.response.upper())
    assert rfc2617_verify(upper) is True


def test_verify_hashes_the_uri_from_the_credentials_not_the_request_uri():
    # SIPp sends uri="sip:127.0.0.2:5060" while the Request-URI is sip:1202@127.0.0.2.
    response = digest_response(method="INVITE", uri="sip:127.0.0.2:5060", username="1001",
                               realm="trunklab", password="pw", nonce="n1")
    creds = DigestCredentials(username="1001", realm="trunklab", nonce="n1",
                              uri="sip:127.0.0.2:5060", response=response)
    assert verify_credentials(creds, method="INVITE", password="pw",
                              expected_realm="trunklab", expected_nonce="n1") is True
    other_uri = dataclasses.replace(creds, uri="sip:1202@127.0.0.2")
    assert verify_credentials(other_uri, method="INVITE", password="pw",
                              expected_realm="trunklab", expected_nonce="n1") is False


# --------------------------------------------------------------------------
# The whole exchange, as the gateway and a caller would run it
# --------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
@pytest.mark.parametrize("qop", ["auth", None])
def test_full_challenge_response_exchange(algorithm, qop):
    # Gateway: challenge the INVITE.
    nonce = "a1b2c3d4e5f60718"  # the gateway's one-time nonces are tested in test_nonces.py
    header = DigestChallenge(realm="trunklab", nonce=nonce, algorithm=algorithm,
                             qop=qop, opaque="op1").to_header()

    # Caller: answer the challenge.
    challenge = parse_challenge(header)
    nc, cnonce = ("00000001", "c0ffee") if challenge.qop else (None, None)
    response = digest_response(method="INVITE", uri="sip:127.0.0.2:5060", username="1001",
                               realm=challenge.realm, password="pw", nonce=challenge.nonce,
                               algorithm=challenge.algorithm, qop=challenge.qop,
                               nc=nc, cnonce=cnonce)
    authorization = DigestCredentials(
        username="1001", realm=challenge.realm, nonce=challenge.nonce,
        uri="sip:127.0.0.2:5060", response=response, algorithm=challenge.algorithm,
        qop=challenge.qop, nc=nc, cnonce=cnonce, opaque=challenge.opaque,
    ).to_header()

    # Gateway: check the retry.
    creds = parse_credentials(authorization)
    assert creds.nonce == nonce
    assert verify_credentials(creds, method="INVITE", password="pw",
                              expected_realm="trunklab", expected_nonce=creds.nonce)
    assert not verify_credentials(creds, method="INVITE", password="wrong",
                                  expected_realm="trunklab", expected_nonce=creds.nonce)
    # A spent or expired nonce is re-challenged with stale=true.
    stale = DigestChallenge(realm="trunklab", nonce="0f1e2d3c4b5a6978",
                            algorithm=algorithm, qop=qop, stale=True)
    assert parse_challenge(stale.to_header()).stale is True

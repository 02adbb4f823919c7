"""The one redaction policy: what counts as a secret in an HTTP exchange, and how it is hidden.

Every artifact imagecert writes goes through these functions — the exchanges a failing
check shows (`client.Exchange`, and from there the console, the reports, JUnit and
allure attachments), the fuzzer's reproduce lines and the cassettes — so that no
artifact can keep what another hides. A secret is:

* the value of a header in :data:`SECRET_HEADERS` (authorization and token headers,
  which carry the signature, and cookies: a session is a credential too);
* the value of a query parameter in :data:`SECRET_QUERY_PARAMS` (the Alibaba RPC style
  signs in the query);
* the value of a body field named like a credential (:func:`is_secret_field`), in a
  JSON body at any depth or in a form body (Apsara's ``Password=…``).

The cassettes add one thing on top (`imagecert.cassettes`): credentials they learn
while recording are replaced wherever else they appear, by whose they are.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote, unquote_plus

REDACTED = "<redacted>"

#: Header names (lower case) whose values are secrets, signatures or sessions.
SECRET_HEADERS = frozenset({
    "authorization",
    "proxy-authorization",
    "x-auth-token",
    "x-subject-token",
    "x-security-token",
    "x-jdcloud-security-token",
    "x-acs-security-token",
    "cookie",
    "set-cookie",
})

#: Query parameter names (lower case) that carry secrets, signatures or whose key signed.
SECRET_QUERY_PARAMS = frozenset({
    "signature", "securitytoken", "accesskeysecret", "accesskeyid", "x-auth-token", "token",
})

#: Body field names whose values are credentials, compared by :func:`is_secret_field`
#: (case, ``_`` and ``-`` ignored: ``access_key``, ``AccessKeyId``, ``secret-key`` …).
SECRET_BODY_FIELDS = frozenset({
    "accesskey", "secretkey", "token", "password", "secret", "accesskeysecret", "signature",
    "accesskeyid", "securitytoken", "authtoken", "adminpass",
})


def is_secret_header(name: object) -> bool:
    return str(name).lower() in SECRET_HEADERS


def is_secret_param(name: object) -> bool:
    """Whether a query parameter (raw or decoded name) carries a secret."""
    return unquote_plus(str(name)).lower() in SECRET_QUERY_PARAMS


def is_secret_field(name: object) -> bool:
    """Whether a body field of this name carries a credential."""
    return re.sub(r"[_-]", "", str(name)).lower() in SECRET_BODY_FIELDS


def redact_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``headers`` with every secret header's value replaced (a list of
    values, as vcrpy keeps response headers, becomes a list of placeholders)."""
    return {name: (([REDACTED] * len(value) if isinstance(value, list) else REDACTED)
                   if is_secret_header(name) else value)
            for name, value in headers.items()}


def redact_pairs(text: str, secret: Callable[[str], bool], *, empty_too: bool = False) -> str:
    """``name=value&…`` (a raw query without ``?``, or a form body) with the value of
    every pair whose decoded name ``secret`` accepts replaced (an empty value only when
    ``empty_too``); the rest kept byte for byte."""
    out = []
    for part in text.split("&"):
        name, sep, value = part.partition("=")
        hidden = sep and (value or empty_too) and secret(unquote_plus(name))
        out.append(f"{name}={quote(REDACTED)}" if hidden else part)
    return "&".join(out)


def redact_query(query: str) -> str:
    """A raw query (without ``?``) with every secret parameter's value replaced."""
    return redact_pairs(query, is_secret_param, empty_too=True)


def redact_form(text: str) -> str:
    """A form body with every credential-named field's value replaced (and every
    secret query parameter's: an RPC call may carry its signature in the body)."""
    return redact_pairs(text, lambda name: is_secret_field(name) or is_secret_param(name))


def looks_like_form(text: str) -> bool:
    return "=" in text and "\n" not in text


def secret_values(node: Any) -> Iterable[str]:
    """The credential values a JSON document holds (non-empty strings under credential names)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if is_secret_field(key) and isinstance(value, str) and value:
                yield value
            else:
                yield from secret_values(value)
    elif isinstance(node, list):
        for value in node:
            yield from secret_values(value)


def redact_json(node: Any, replacement: Mapping[str, str] | None = None) -> Any:
    """A JSON document with every credential-named string field's value replaced: by
    ``replacement[value]`` when given there, else :data:`REDACTED`."""
    if isinstance(node, dict):
        return {key: ((replacement or {}).get(value, REDACTED)
                      if is_secret_field(key) and isinstance(value, str) and value else redact_json(value, replacement))
                for key, value in node.items()}
    if isinstance(node, list):
        return [redact_json(value, replacement) for value in node]
    return node


def parse_json(text: str) -> Any:
    """A JSON object or array, or ``None`` when ``text`` is not one."""
    if not text or text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def redact_body(text: str) -> str:
    """A JSON or form body with the values of credential-like fields replaced; other
    text unchanged. A JSON body without a credential is returned as it was; one nested too
    deeply to read (a hostile or fuzzed body) is not shown, since it cannot be checked."""
    try:
        data = parse_json(text)
    except RecursionError:
        return f"[{len(text)} characters of JSON nested too deeply to check for secrets: not shown]"
    if data is not None:
        if next(iter(secret_values(data)), None) is None:
            return text
        return json.dumps(redact_json(data), ensure_ascii=False)
    return redact_form(text) if looks_like_form(text) else text


def key_hint(access_key: str | None) -> str | None:
    """How a report names the access key that signed: its first and last four characters, as
    the clouds' consoles show a key (`AKID…WXYZ`), enough to tell whose key it was and never
    the key whole; a key too short to cut is :data:`REDACTED`. None when there is no key."""
    if not access_key:
        return None
    return f"{access_key[:4]}…{access_key[-4:]}" if len(access_key) >= 16 else REDACTED


def signer(auth: Mapping[str, str]) -> dict[str, str | None]:
    """Whose credentials an [auth] table (or a control-protocol tenant's `auth`) signs with,
    as a report may show it: the scheme and the access key's hint; never a secret key, never
    a token (a token is the secret itself)."""
    return {"scheme": auth.get("scheme", "none"), "access_key": key_hint(auth.get("access_key"))}

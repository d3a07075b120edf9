"""Secrets that people put where AWS does not mark them, masked in what a read returns.

botocore's model marks credential members (`SecretAccessKey`, `Password`...), and reads that return those are
classed sensitive (catalog/classify.py): their answers are shown as they are, to roles the policy lets read them.
Ordinary reads still carry secrets that users chose to put in names of their own: a Lambda function's
environment (`DB_PASSWORD`), an ECS container's `environment` list, a tag `api-token`, a connection URL with its
password. Those are masked by three rules, so an SRE still sees `LOG_LEVEL` and `DB_HOST` but never the
password:

* in a map (keys chosen by the user, per the operation's output shape), an entry whose key names a secret,
  or whose value looks like a credential;
* in a structure pairing a name with a value (`{"name": ..., "value": ...}`, tags, stack parameters, option
  settings), the value when the name names a secret or the value looks like a credential;
* in any string, a private key block and the password of a URL (`postgres://app:***@db/app`).
"""

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

MASK = "***"

SECRET_NAMES = re.compile(
    r"pass(?:word|wd|phrase)?(?![a-z])|pwd|secret|token|credential|private_?key|api_?key|access_?key"
    r"|(?<![a-z])auth(?:orization)?(?![a-z])|(?:signing|encryption|master|client|license|hmac|session)_?key"
    r"|(?<![a-z])dsn(?![a-z])|connection_?string",
    re.IGNORECASE,
)
"""User-chosen names (environment variables, map keys, tag keys) whose values are secrets."""
POINTER_NAMES = re.compile(r"(?:^|[_\-.])(?:arn|id|name|names|ttl|path|file|url|uri|region|type)$", re.IGNORECASE)
"""Names that say the value points at a secret or describes it (`DB_SECRET_ARN`, `TOKEN_TTL`): shown."""
KEYS_IDS_AND_JWTS = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|\beyJ[\w-]{10,}\.[\w-]{10,}\."
"""Private key blocks, access key ids and JWTs: credentials wherever they stand (the audit's patterns start here)."""
CREDENTIAL_VALUES = re.compile(
    KEYS_IDS_AND_JWTS
    + r"|\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}|xox[abprs]-[\w-]{10,}|[sr]k_live_\w{10,}|glpat-[\w-]{20})"
)
"""Values that are credentials whatever they are called: key blocks, access key ids, JWTs, well-known tokens."""
PRIVATE_KEY_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----.*?(?:-----END \1-----|\Z)", re.DOTALL)
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^\s:/@?#]*:)([^\s/?#]+)(@)", re.IGNORECASE)
"""A URL's `user:password@`: the password runs to the authority's last `@`, so one holding an `@` is masked whole."""

PAIR_NAMES = ("Key", "Name", "key", "name", "ParameterKey", "OptionName", "AttributeName")
PAIR_VALUES = ("Value", "value", "ParameterValue", "Values", "values")


@lru_cache(maxsize=4096)
def names_a_secret(name: str) -> bool:
    return bool(SECRET_NAMES.search(name)) and not POINTER_NAMES.search(name)


def looks_like_a_credential(value: Any) -> bool:
    return isinstance(value, str) and bool(CREDENTIAL_VALUES.search(value))


def mask_entry(key: str, value: Any) -> bool:
    """Whether a map's entry is masked: a non-empty string under a secret's name, or a credential."""
    return isinstance(value, str) and value != "" and (names_a_secret(key) or looks_like_a_credential(value))


PAIR_SIZE = 5
"""Members a pair has at most (CloudFormation's ParameterKey, ParameterValue, UsePreviousValue, ResolvedValue):
larger structures are not looked at as pairs."""


def secret_pair(value: Mapping[Any, Any]) -> tuple[str, ...]:
    """The value members of a structure that pairs a secret's name with its value; () for any other."""
    label = None
    for key in PAIR_NAMES:
        if key in value:
            label = value[key]
            break
    if not isinstance(label, str):
        return ()
    members = tuple(key for key in PAIR_VALUES if key in value)
    if names_a_secret(label) or any(looks_like_a_credential(value[key]) for key in members):
        return members
    return ()


def mask_text(text: str) -> str:
    """`text` with private key blocks and URL passwords masked. Cheap for text that holds neither."""
    if "PRIVATE KEY-----" in text:
        text = PRIVATE_KEY_BLOCK.sub(lambda found: f"-----BEGIN {found[1]}-----{MASK}", text)
    if "://" in text and "@" in text:
        text = URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", text)
    return text

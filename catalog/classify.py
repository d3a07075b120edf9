"""Sort every AWS operation into read, sensitive, write or destructive, so policy can allow or deny by class.

The verb at the start of an operation name decides most cases. Names that lie are corrected by the tables
below: reads under other verbs (dynamodb Query), reads that reveal secrets (GetSecretValue), `Get*` calls
that mint credentials or change state (sts GetSessionToken), and writes that overwrite access (PutBucketPolicy).
Anything botocore does not model is a write: an unknown name is never trusted to be harmless.

Verb rules, applied to the first word of the name (after a `Batch` or `Admin` qualifier, so
`BatchGetItem` reads with `Get` and `AdminDeleteUser` destroys with `Delete`):

* read: `READ_VERBS`.
* destructive: `DESTRUCTIVE_VERBS`, i.e. verbs that remove, stop, revoke, revert or cut off something.
  Failover, Reboot, Replace and Archive stay writes: they disrupt or change, but nothing is gone.
* destructive: `Put*`/`Set*` calls ending in `Policy`, `Acl` or `PermissionsBoundary` that replace an access
  policy wholesale, except policies that govern something other than access (scaling, lifecycle, retention...).
* write: everything else.

Some calls are destructive only for some arguments (a Route 53 change batch holding a DELETE); with
`params` those are inspected, without them the call keeps its name-based class.

Patterns from the user's policy (`extra_destructive`) promote any class, reads included, to destructive:
an author who writes `^Get` wants those calls gated, and a policy may only tighten, never loosen.

How the tables were found (botocore 1.44.5, 19,796 operations; redo it when botocore grows):

1. Secrets in outputs. Every operation's output shape is walked recursively. A member can carry a credential
   when it is text or bytes (not an enum) and its name ends in a credential noun (Password, Passphrase,
   SecretAccessKey, SessionToken, PrivateKey, ClientSecret, SharedSecret, PreSharedKey, AuthToken, AccessToken,
   ApiKey, StreamKey, UnlockCode, AuthCode, PIN...), or botocore marks it `sensitive` (the trait is
   `shape.metadata["sensitive"]`) and its head noun is a credential noun; or it is the `value` of a structure
   named like a credential (apigateway ApiKey.value); or it is a map whose keys name secrets (glue
   ConnectionProperties lists PASSWORD, cognito ProviderDetails documents client_secret). Names that are not
   secrets are left out: paging and concurrency tokens (NextToken, ClientToken, LockToken), ids, ARNs, KMS key
   ids, and anything named `Public...`. The `sensitive` trait alone is not enough: botocore also puts it on
   e-mail and postal addresses, names, phone numbers, free text and environment variables, which are personal
   or user data, not credentials. `tests/test_classify.py` holds this walk as an oracle independent of these
   tables: every operation it flags must be sensitive or a write, or be listed in
   READS_DESPITE_CREDENTIAL_NAMED_OUTPUT with the reason AWS does not hand out the secret. Where AWS documents
   nothing, the model's word that the value can come back decides. A second pass over members that carry the
   trait and whose documentation speaks of keys, passwords or tokens found the few secrets under other names
   (ec2 GetVpnConnectionDeviceSampleConfiguration, gameliftstreams stream URLs).
2. Minted credentials. A credential returned beside its own expiry (AuthToken + AuthTokenExpirationTime,
   authorizationToken + expiresAt, Password + Ttl) was made for this caller: the call mints it and is a write,
   whatever its verb (ecr GetAuthorizationToken). The same oracle checks it; STORED_CREDENTIALS_WITH_EXPIRY
   lists the reads whose expiry belongs to something stored. Documentation saying the call "returns temporary
   credentials" or "creates" the token, URL or key pair found the rest.
3. State changes under read verbs. The first sentence of every read's documentation was searched for
   "creates", "sends", "generates", "starts", "deletes"...; an idempotency token among the inputs hints at the
   same. Reviewed hits that change state are STATE_CHANGING_READ_NAMES; a query language that can write
   (timestream UNLOAD) is a write. Bookkeeping a read triggers (an ARN assigned, a status refreshed) is not.
4. Destruction hidden in arguments. The inputs of every operation that is not destructive by name were
   searched for booleans named Force*, Overwrite*, SetAsDefault, Delete*, Remove*, Reset*, Replace*,
   Terminate*, for lists named *ToRemove, Remove*, Revoke*, Delete*, and for statements (Statement, Sql,
   QueryString, gremlinQuery...). Arguments that delete data or resources, replace the access policy in force,
   or take access away (revoke permissions, unshare, remove principals, users, routes, subnets) make the call
   destructive: DESTRUCTIVE_WITH_PARAMS. Arguments that only clear configuration (attributes, options,
   descriptions, metrics) stay writes, as UntagResource does. In statements DELETE, DROP, TRUNCATE and REVOKE
   destroy (rows, objects, grants; Gremlin `drop()`); UPDATE overwrites in place and stays a write, as PutItem
   and UpdateItem do. A statement is judged by its text: one that calls a stored procedure is a write, as a
   Lambda Invoke is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from functools import cache
from typing import Any, Protocol

from catalog import models
from catalog.overrides import (
    CREDENTIAL_MINTING,
    DESTRUCTIVE,
    READS,
    RUNS_CODE_OR_QUERIES,
    SENSITIVE,
    STATE_CHANGING_READ_NAMES,
)
from catalog.param_rules import DESTRUCTIVE_WITH_PARAMS


class OpClass(StrEnum):
    READ = "read"
    SENSITIVE = "sensitive"
    WRITE = "write"
    DESTRUCTIVE = "destructive"


READ_VERBS = frozenset(
    {"Describe", "List", "Get", "Head", "Search", "Lookup", "Check", "Count", "Is", "Simulate", "Estimate"}
)

DESTRUCTIVE_VERBS = frozenset(
    {
        "Abort",
        "Cancel",
        "Clear",
        "Close",
        "Deactivate",
        "Deauthorize",
        "Decline",
        "Decrease",
        "Delete",
        "Deny",
        "Deprovision",
        "Deregister",
        "Detach",
        "Disable",
        "Disallow",
        "Disassociate",
        "Disconnect",
        "Discard",
        "Dispose",
        "Dissociate",
        "Drain",
        "Evict",
        "Expire",
        "Flush",
        "Forget",
        "Invalidate",
        "Leave",
        "Pause",
        "Purge",
        "Redact",
        "Reject",
        "Release",
        "Remove",
        "Reset",
        "Retire",
        "Revoke",
        "Rollback",
        "Shrink",
        "Shutdown",
        "Stop",
        "Suspend",
        "Terminate",
        "Unassign",
        "Undeploy",
        "Ungroup",
        "Unlink",
        "Unlock",
        "Unmonitor",
        "Unpeer",
        "Unregister",
        "Unshare",
        "Unsubscribe",
        "Withdraw",
    }
)

MUTATING_VERBS = DESTRUCTIVE_VERBS | frozenset(
    {
        "Accept",
        "Activate",
        "Add",
        "Advertise",
        "Allocate",
        "Apply",
        "Assign",
        "Assume",
        "Associate",
        "Attach",
        "Authorize",
        "Change",
        "Copy",
        "Create",
        "Encrypt",
        "Enable",
        "Execute",
        "Export",
        "Failover",
        "Grant",
        "Import",
        "Increase",
        "Invoke",
        "Lock",
        "Merge",
        "Modify",
        "Move",
        "Promote",
        "Provision",
        "Publish",
        "Purchase",
        "Put",
        "Reboot",
        "Register",
        "Rename",
        "Replace",
        "Restart",
        "Restore",
        "Resume",
        "Rotate",
        "Run",
        "Schedule",
        "Send",
        "Set",
        "Start",
        "Submit",
        "Tag",
        "Transfer",
        "Untag",
        "Update",
        "Upload",
        "Write",
    }
)

_QUALIFIERS = frozenset({"Batch", "Admin"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")

_ACCESS_POLICY = re.compile(r"^(Put|Set)\w*(Policy|Acl|ACL|PermissionsBoundary)$")
_NON_ACCESS_POLICY = re.compile(
    r"(Scaling|AutoTermination|Lifecycle|Backup|Retention|DataRetrieval|Index|StorageTier|Metric|Cors"
    r"|DataProtection|Account|CoreNetwork)Policy$"
)


def _overrides() -> dict[tuple[str, str], OpClass]:
    tables = (
        (READS, OpClass.READ),
        (SENSITIVE, OpClass.SENSITIVE),
        (CREDENTIAL_MINTING, OpClass.WRITE),
        (RUNS_CODE_OR_QUERIES, OpClass.WRITE),
        (STATE_CHANGING_READ_NAMES, OpClass.WRITE),
        (DESTRUCTIVE, OpClass.DESTRUCTIVE),
    )
    return {key: op_class for table, op_class in tables for key in table}


OVERRIDES = _overrides()


def _verb(operation: str) -> str:
    words = _WORD.findall(operation)
    if len(words) > 1 and words[0] in _QUALIFIERS:
        return words[1]
    return words[0] if words else ""


def is_mutating_name(operation: str) -> bool:
    """Whether the name starts with a verb that changes state (`BatchDeleteX` and `AdminCreateX` count)."""
    return _verb(operation) in MUTATING_VERBS


def _is_access_policy_overwrite(operation: str) -> bool:
    return bool(_ACCESS_POLICY.match(operation)) and not _NON_ACCESS_POLICY.search(operation)


@cache
def _classify_name(service: str, operation: str) -> OpClass:
    if operation not in models.operation_names(service):
        return OpClass.WRITE
    override = OVERRIDES.get((service, operation))
    if override is not None:
        return override
    verb = _verb(operation)
    if verb in DESTRUCTIVE_VERBS or _is_access_policy_overwrite(operation):
        return OpClass.DESTRUCTIVE
    if verb in READ_VERBS:
        return OpClass.READ
    return OpClass.WRITE


class Searchable(Protocol):
    """A compiled regex: `re`'s, or RE2's (what the policy compiles its patterns with)."""

    def search(self, text: str) -> Any: ...


def classify(
    service: str,
    operation: str,
    params: Mapping[str, Any] | None = None,
    extra_destructive: Sequence[Searchable] = (),
) -> OpClass:
    """Class of `service`/`operation` (botocore spellings), refined by the call's `params` when given.

    Each `extra_destructive` pattern is searched in the operation name and in "service:Operation";
    a match makes the call destructive whatever its class.
    """
    op_class = _classify_name(service, operation)
    if op_class is OpClass.DESTRUCTIVE:
        return op_class
    qualified = f"{service}:{operation}"
    if any(pattern.search(operation) or pattern.search(qualified) for pattern in extra_destructive):
        return OpClass.DESTRUCTIVE
    inspect = DESTRUCTIVE_WITH_PARAMS.get((service, operation))
    if params is not None and inspect is not None and inspect(params):
        return OpClass.DESTRUCTIVE
    return op_class


def can_be_destructive(service: str, operation: str) -> bool:
    """Whether some call of this operation is destructive: by its name, or for some arguments."""
    return _classify_name(service, operation) is OpClass.DESTRUCTIVE or (service, operation) in DESTRUCTIVE_WITH_PARAMS

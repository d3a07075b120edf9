"""Ranked free-text search over every operation botocore models, for the `search_operations` tool.

Each operation is indexed on three fields: the words of its name (weighted most), its service's names and
titles, and the first sentence of its documentation. Scores are BM25 per field, summed with field weights.

Queries are read the way people write them: the verb says what to do (`show` -> list/describe/get), everyday
nouns point at services (`bucket` -> s3), words after `in`/`to`/`from` only give context, and in a noun
compound the last noun is the thing wanted (`dns records`). A service named outright or through a synonym
adds a `svc:` term that only that service's own operations carry, which is how `list buckets` finds s3 rather
than s3control. The best candidates are then re-ranked by how much of the operation's name the query covers.

Building the index loads every model (seconds), so it is cached as JSON keyed by botocore's version. The file
also records a fingerprint of this module and of the classifier, because both shape its content (terms,
weights, op classes) and a stale file would otherwise outlive a code change. It is built ahead of the first
search: by `make` when the environment is installed, in the image, or else at server start-up in the background.
"""

from __future__ import annotations

import hashlib
import heapq
import html
import json
import logging
import math
import os
import re
import sys
import tempfile
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

from catalog import classify as classify_module
from catalog import models, overrides, param_rules

log = logging.getLogger(__name__)

FORMAT = 2
K1 = 1.2
B = 0.75
FIELD_WEIGHTS = {"name": 3.0, "service": 1.2, "doc": 1.0}
SCALE = 1000
"""Posting values are stored as integers scaled by SCALE: a smaller file that parses faster."""

SERVICE_TERM_WEIGHT = 1.5
SYNONYM_WEIGHT = 0.6
CONTEXT_WEIGHT = 0.4
MODIFIER_WEIGHT = 0.7
IMPLICIT_VERB_WEIGHT = 0.25
COVERAGE_WEIGHT = 1.0
RERANK_DEPTH = 200
HINT_BOOST = 3.0
CORE_BOOST = 1.15
VERSION_BOOST = 1.05
SERVICE_PREFIX = "svc:"


@dataclass(frozen=True)
class OperationHit:
    service: str
    operation: str
    description: str
    op_class: str
    score: float


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _by_word(table: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Invert {key: "word word ..."} into {word: (key, ...)}."""
    inverted: dict[str, tuple[str, ...]] = {}
    for key, listed in table.items():
        for word in listed.split():
            inverted[word] = (*inverted.get(word, ()), key)
    return inverted


CORE_SERVICES = _word_set("""
    acm apigateway athena autoscaling backup ce cloudformation cloudfront cloudtrail cloudwatch codebuild codecommit
    codedeploy codepipeline dynamodb ec2 ecr ecs efs eks elasticache elbv2 events glue iam kinesis kms lambda logs
    organizations rds route53 s3 secretsmanager ses sns sqs ssm stepfunctions sts
""")
"""Services most people mean; they win ties against niche relatives (s3 over s3outposts)."""

STOPWORDS = _word_set("""
    a an the my me mine our we i you your of in on for to from with all any every is are am be been do does did how
    can could would should please aws amazon and or by at that this these those it its what which there some want
    need using use via into about inside within across
""")

ARTICLES = frozenset({"a", "an", "the", "my", "our", "all", "this", "these", "some", "every"})

CONTEXT_WORDS = frozenset({"in", "into", "to", "from", "on", "of", "with", "for", "inside", "within", "across"})
"""Words after one of these say where or with what (`objects in a bucket`), not what is wanted."""

STATE_WORDS = frozenset({"running", "stopped", "active", "existing", "current", "pending", "available"})
"""Adjectives for what exists: they ask to list things, not to run or stop them."""

READ_VERBS = ("list", "describe", "get")

VERB_SYNONYMS: dict[str, tuple[str, ...]] = {
    "show": ("list", "describe", "get"),
    "display": ("list", "describe", "get"),
    "view": ("list", "describe", "get"),
    "see": ("list", "describe", "get"),
    "find": ("list", "describe", "search"),
    "search": ("filter", "query", "list"),
    "filter": ("search", "query"),
    "fetch": ("get", "describe"),
    "read": ("get",),
    "retrieve": ("get",),
    "look": ("get", "describe", "lookup"),
    "lookup": ("get", "describe"),
    "list": ("describe",),
    "describe": ("list", "get"),
    "get": ("describe",),
    "remove": ("delete",),
    "destroy": ("delete", "terminate"),
    "drop": ("delete",),
    "erase": ("delete",),
    "kill": ("terminate", "stop"),
    "delete": ("terminate",),
    "make": ("create",),
    "take": ("create",),
    "create": ("put",),
    "put": ("create",),
    "add": ("create", "put"),
    "store": ("put", "create"),
    "save": ("put",),
    "write": ("put",),
    "upload": ("put",),
    "download": ("get",),
    "run": ("start", "launch"),
    "start": ("run",),
    "launch": ("run", "start"),
    "spin": ("run",),
    "execute": ("start", "run", "invoke"),
    "call": ("invoke",),
    "trigger": ("invoke", "start"),
    "halt": ("stop",),
    "shutdown": ("stop",),
    "change": ("update", "modify", "set"),
    "edit": ("update", "modify"),
    "modify": ("update",),
    "update": ("modify", "put"),
    "alter": ("update", "modify"),
    "set": ("put", "update"),
    "scale": ("update", "set"),
    "resize": ("modify", "update"),
    "restart": ("reboot",),
    "reboot": ("restart",),
    "send": ("publish",),
    "post": ("send", "publish"),
    "publish": ("send",),
    "notify": ("publish",),
    "link": ("associate", "attach"),
    "attach": ("associate",),
    "associate": ("attach",),
    "unlink": ("disassociate", "detach"),
    "grant": ("authorize", "add"),
    "open": ("authorize",),
    "close": ("revoke",),
    "enable": ("put", "update"),
    "disable": ("put", "update"),
    "allow": ("authorize",),
    "copy": ("clone",),
    "spend": ("cost", "usage"),
}
"""Query verb -> API verbs it may mean; expansions score at SYNONYM_WEIGHT."""

SERVICE_NOUNS: dict[str, str] = {
    "s3": "bucket object file prefix",
    "route53": "dns record domain zone",
    "route53domains": "domain",
    "ec2": "vm instance server machine ami vpc subnet volume ebs snapshot",
    "secretsmanager": "secret password credential",
    "ssm": "parameter password command patch",
    "sqs": "queue message",
    "sns": "topic notification sms subscription",
    "lambda": "function serverless",
    "dynamodb": "table item query",
    "sts": "identity caller whoami",
    "logs": "log",
    "cloudwatch": "alarm metric dashboard",
    "ecs": "cluster container task",
    "eks": "cluster pod kubernetes k8s nodegroup",
    "ecr": "container registry docker repository",
    "iam": "user role policy group mfa",
    "cloudformation": "stack template changeset",
    "kms": "key encrypt decrypt",
    "acm": "certificate cert tls ssl",
    "elbv2": "balancer alb nlb elb",
    "rds": "database db postgres mysql aurora",
    "autoscaling": "autoscaling asg capacity",
    "cloudfront": "distribution cdn invalidation",
    "apigateway": "api",
    "events": "event bus",
    "cloudtrail": "event trail audit activity",
    "stepfunctions": "workflow execution",
    "ce": "cost bill billing spend usage",
    "sesv2": "email",
    "ses": "email",
    "kinesis": "stream",
    "elasticache": "redis memcached cache",
    "efs": "nfs",
    "organizations": "account organization",
    "athena": "sql query",
    "glue": "crawler etl",
    "codebuild": "build",
    "codepipeline": "pipeline",
    "codedeploy": "deployment",
    "service-quotas": "quota limit",
}
"""Service -> the everyday nouns that usually mean it. Looked up by stem, so `tables` finds `table`."""

AWS_WORDS: dict[str, str] = {
    "object": "file data",
    "item": "data",
    "instance": "vm server machine",
    "db": "database rds",
    "secret": "password",
    "certificate": "cert",
    "decrypt": "ciphertext",
    "image": "docker ami",
    "repository": "docker",
    "ingress": "port",
    "security": "firewall",
    "group": "firewall",
    "cluster": "k8s kubernetes",
}
"""Word AWS uses in operation names -> the everyday words people use for it."""

REWRITES: dict[str, str] = {
    "who am i": "whoami",
    "look up": "lookup",
    "spin up": "launch",
    "sign in": "login",
    "log in": "login",
    "set up": "create",
    "tear down": "delete",
    "shut down": "stop",
    "turn off": "stop",
    "turn on": "start",
    "parameter store": "ssm parameter",
    "secrets manager": "secretsmanager",
    "systems manager": "ssm",
}
"""Multi-word verbs and service names, replaced before anything else so they weigh as one word."""

PHRASES: dict[str, tuple[str, ...]] = {
    "whoami": ("get", "caller", "identity", "svc:sts"),
    "my identity": ("caller", "svc:sts"),
    "load balancer": ("svc:elbv2",),
    "target group": ("svc:elbv2",),
    "hosted zone": ("svc:route53",),
    "security group": ("svc:ec2",),
    "access key": ("svc:iam",),
    "state machine": ("svc:stepfunctions",),
    "step function": ("state", "machine", "svc:stepfunctions"),
    "virtual machine": ("instance", "svc:ec2"),
    "container image": ("svc:ecr",),
    "docker image": ("svc:ecr",),
    "login token": ("authorization",),
    "auto scaling": ("svc:autoscaling",),
    "autoscaling group": ("auto", "scaling", "svc:autoscaling"),
    "log group": ("svc:logs",),
    "log stream": ("svc:logs",),
    "file system": ("svc:efs",),
    "api activity": ("event", "svc:cloudtrail"),
    "dns record": ("resource", "change", "svc:route53"),
    "api call": ("event", "svc:cloudtrail"),
    "key pair": ("svc:ec2",),
    "elastic ip": ("address", "svc:ec2"),
    "ip address": ("svc:ec2",),
    "event bus": ("svc:events",),
    "event rule": ("svc:events",),
}
"""Multi-word expressions, matched on the lowercased query. The phrase's own words count anyway; these are
what it adds: other words at SYNONYM_WEIGHT, services at SERVICE_TERM_WEIGHT."""

_BOILERPLATE = re.compile(
    r"^(This API works with|This operation is not supported|This is AWS WAF Classic|End of support notice|"
    r"This documentation is for version 1|This action is only used by)",
    re.IGNORECASE,
)
_ASIDE = re.compile(r"<(note|important)>.*?</\1>", re.DOTALL)
_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]][.!?])\s")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+\d*|[A-Z]+\d*|\d+")
_RAW_WORD = re.compile(r"[A-Za-z0-9]+")
_VERSION = re.compile(r"^v\d+$")
_VERSION_SUFFIX = re.compile(r"V\d+$")
_VENDOR = re.compile(r"^(amazon|aws)")


def stem(word: str) -> str:
    """A deliberately small stemmer for plural, -ing, -ed and -tion endings and a final e.

    It only has to map the same word family to the same key (`invalidate`, `invalidation` -> `invalidat`),
    not produce real words.
    """
    if word.startswith(SERVICE_PREFIX) or len(word) <= 3 or word[-1].isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us")) and not (word.endswith("is") and len(word) > 4):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "ls":
                word = word[:-1]
            break
    if word.endswith("tion") and len(word) > 6:
        word = word[:-3]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lowercased words, with CamelCase split (`DescribeDBInstances` -> describe, db, instances)."""
    return [part.lower() for part in _CAMEL.findall(text)]


def terms(text: str) -> list[str]:
    return [stem(w) for w in words(text) if w not in STOPWORDS]


@lru_cache(maxsize=32768)
def name_terms(operation: str) -> tuple[str, ...]:
    """Terms of an operation name, without a trailing API version (`ListObjectsV2` -> list, object)."""
    found = tuple(terms(operation))
    return found[:-1] if len(found) > 1 and _VERSION.match(found[-1]) else found


def canonical(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def first_sentence(documentation: str) -> str:
    """The first real sentence of botocore's HTML documentation, as plain text."""
    body = _ASIDE.sub(" ", documentation) or documentation
    paragraphs = _PARAGRAPH.findall(body) or [body]
    for paragraph in paragraphs:
        text = " ".join(html.unescape(_TAG.sub(" ", paragraph)).split())
        if text and not _BOILERPLATE.match(text) and not text.endswith(":"):
            return _SENTENCE_END.split(text, maxsplit=1)[0]
    return " ".join(html.unescape(_TAG.sub(" ", documentation)).split())[:200]


ACTION_STEMS = frozenset(
    stem(verb.lower())
    for verb in (
        *VERB_SYNONYMS,
        *(v for verbs in VERB_SYNONYMS.values() for v in verbs),
        *classify_module.MUTATING_VERBS,
        *classify_module.READ_VERBS,
        "query",
        "scan",
        "filter",
        "search",
        "lookup",
        "decrypt",
        "receive",
        "request",
    )
)
"""Stems of words that say what to do. A query without one most likely wants to see things."""

API_VERB_STEMS = frozenset(
    stem(verb.lower()) for verb in (*classify_module.MUTATING_VERBS, *classify_module.READ_VERBS)
)
"""Verbs AWS names operations with. Other verbs in VERB_SYNONYMS (`show`, `store`) count mostly through
their synonyms: matched literally they tend to hit nouns (KeyValueStore)."""

_SERVICES_BY_NOUN_STEM = {stem(noun): services for noun, services in _by_word(SERVICE_NOUNS).items()}
_AWS_WORDS_BY_STEM = {stem(word): aws_words for word, aws_words in _by_word(AWS_WORDS).items()}


@dataclass(frozen=True)
class QueryWord:
    raw: str
    lower: str
    role: str
    """"verb", "state" (an adjective such as running) or "noun" (anything else that carries meaning)."""
    scale: float
    """How much the word counts: less after a context word (`in a bucket`) or before the noun it modifies."""


def _rewrite(query: str) -> str:
    """The query's words in their original case (CamelCase is split later), multi-word expressions joined."""
    text = " ".join(_RAW_WORD.findall(query))
    for phrase, replacement in REWRITES.items():
        text = re.sub(rf"\b{phrase}\b", replacement, text, flags=re.IGNORECASE)
    return text


def read_words(text: str) -> list[QueryWord]:
    """The meaningful words of a query with their roles and weights.

    Queries are mostly imperatives, so a first word followed by an article is a verb even when it is usually
    a noun (`snapshot a database`). English noun compounds put the head last (`dns records`, `log groups`):
    a noun directly followed by another counts for less, though it may still name the service.
    """
    raws = text.split()
    found: list[QueryWord] = []
    scale = 1.0
    previous_noun: int | None = None
    for position, raw in enumerate(raws):
        lower = raw.lower()
        if lower in CONTEXT_WORDS:
            scale = CONTEXT_WEIGHT
        if lower in STOPWORDS:
            previous_noun = None
            continue
        following = raws[position + 1].lower() if position + 1 < len(raws) else ""
        if lower in STATE_WORDS:
            role = "state"
        elif (stem(lower) in ACTION_STEMS and (not found or found[-1].role != "noun")) or (
            not found and following in ARTICLES
        ):
            role = "verb"
        else:
            role = "noun"
        if role == "noun" and previous_noun is not None:
            modifier = found[previous_noun]
            found[previous_noun] = QueryWord(modifier.raw, modifier.lower, "noun", modifier.scale * MODIFIER_WEIGHT)
        previous_noun = len(found) if role == "noun" else None
        found.append(QueryWord(raw, lower, role, scale))
    return found


class _QueryTerms:
    """Weighted query terms; a term reached several ways keeps its best weight, services add up to a cap.

    Terms added as `implicit` are guesses about intent, not evidence: a query matching only those matches nothing.
    """

    def __init__(self) -> None:
        self.weights: dict[str, float] = {}
        self.evidence: set[str] = set()

    def add(self, term: str, weight: float, implicit: bool = False) -> None:
        self.weights[term] = max(self.weights.get(term, 0.0), weight)
        if not implicit:
            self.evidence.add(term)

    def add_service(self, service: str, weight: float) -> None:
        key = SERVICE_PREFIX + service
        self.weights[key] = min(SERVICE_TERM_WEIGHT, self.weights.get(key, 0.0) + weight)
        self.evidence.add(key)


def _add_phrases(found: _QueryTerms, lowered: str) -> None:
    for phrase, expansion in PHRASES.items():
        if re.search(rf"\b{re.escape(phrase)}\b", lowered):
            for term in expansion:
                if term.startswith(SERVICE_PREFIX):
                    found.add_service(term.removeprefix(SERVICE_PREFIX), SERVICE_TERM_WEIGHT)
                else:
                    found.add(stem(term), SYNONYM_WEIGHT)


def _service_titles(service: str) -> list[str]:
    metadata = models.service_model(service).metadata
    titles = [metadata.get(key) for key in ("serviceFullName", "serviceAbbreviation", "serviceId")]
    return [title for title in titles if title]


def _service_terms(service: str, titles: list[str]) -> list[str]:
    raw = [service, *service.split("-")]
    for title in titles:
        raw.extend(title.split())
    found = [SERVICE_PREFIX + service]
    for word in raw:
        whole = canonical(word)
        if whole and whole not in STOPWORDS:
            found.append(stem(whole))
        found.extend(terms(word))
    return list(dict.fromkeys(found))


def _bm25_field(tf: int, length: int, average: float) -> float:
    return tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))


def _fingerprint() -> str:
    digest = hashlib.sha256(str(FORMAT).encode())
    for module_file in (__file__, classify_module.__file__, overrides.__file__, param_rules.__file__):
        digest.update(Path(module_file).read_bytes())
    return digest.hexdigest()[:16]


def build_index_data() -> dict:
    """Everything the index needs, as JSON-ready data. Loads every botocore model.

    Operations are numbered, with one list per column in `docs`. `postings` maps each term to a flat list
    `[doc, value, doc, value, ...]`, where value is the term's field-weighted BM25 weight in that operation
    times SCALE; a query only multiplies it by the term's idf and the query weight.
    """
    services = list(models.service_names())
    class_codes = [c.value for c in classify_module.OpClass]
    docs: dict[str, list] = {"service": [], "operation": [], "description": [], "class": []}
    fields: list[dict[str, list[str]]] = []
    hint_keys: dict[str, str] = {}
    for service_id, service in enumerate(services):
        titles = _service_titles(service)
        for key in (service, *titles):
            hint_keys.setdefault(canonical(key), service)
            hint_keys.setdefault(_VENDOR.sub("", canonical(key)), service)
        service_terms = _service_terms(service, titles)
        model = models.service_model(service)
        for operation in model.operation_names:
            description = first_sentence(model.operation_model(operation).documentation or "")
            op_class = classify_module.classify(service, operation)
            docs["service"].append(service_id)
            docs["operation"].append(operation)
            docs["description"].append(description)
            docs["class"].append(class_codes.index(op_class))
            fields.append({"name": list(name_terms(operation)), "service": service_terms, "doc": terms(description)})

    averages = {f: sum(len(doc[f]) for doc in fields) / len(fields) or 1.0 for f in FIELD_WEIGHTS}
    postings: dict[str, list[int]] = defaultdict(list)
    for doc_id, doc in enumerate(fields):
        value_by_term: Counter[str] = Counter()
        for field, weight in FIELD_WEIGHTS.items():
            counts = Counter(doc[field])
            if field == "name":
                counts = Counter(counts.keys())  # GetInstanceTypesFromInstanceRequirements is not more about instances
            for term, tf in counts.items():
                value_by_term[term] += weight * _bm25_field(tf, len(doc[field]), averages[field])
        for term, value in value_by_term.items():
            postings[term].extend((doc_id, round(value * SCALE)))
    return {
        "format": FORMAT,
        "botocore": models.botocore_version(),
        "fingerprint": _fingerprint(),
        "services": services,
        "classes": class_codes,
        "hint_keys": hint_keys,
        "docs": docs,
        "postings": postings,
    }


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_LOAD_LOCKS: dict[str, threading.Lock] = {}
_LOAD_LOCKS_GUARD = threading.Lock()


def _load_lock(path: Path) -> threading.Lock:
    with _LOAD_LOCKS_GUARD:
        return _LOAD_LOCKS.setdefault(os.path.abspath(path), threading.Lock())


def _read_valid(path: Path) -> dict | None:
    """The cached index data, or None when the file is missing, unreadable or from other code or botocore."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    expected = {"format": FORMAT, "botocore": models.botocore_version(), "fingerprint": _fingerprint()}
    if any(data.get(key) != value for key, value in expected.items()):
        return None
    return data


class OperationIndex:
    builds = 0
    """How many indexes this process built from the models rather than read from a cache file."""

    def __init__(self, data: dict) -> None:
        self._services: list[str] = data["services"]
        self._classes: list[str] = data["classes"]
        self._hint_keys: dict[str, str] = data["hint_keys"]
        docs = data["docs"]  # one list per column: far fewer objects for the garbage collector to walk
        self._doc_services: list[int] = docs["service"]
        self._doc_operations: list[str] = docs["operation"]
        self._doc_descriptions: list[str] = docs["description"]
        self._doc_classes: list[int] = docs["class"]
        self._postings: dict[str, list[int]] = data["postings"]
        self._known_services = frozenset(self._services)
        self._core_ids = frozenset(i for i, s in enumerate(self._services) if s in CORE_SERVICES)
        total = len(self._doc_operations)
        self._idf = {
            term: math.log(1 + (total - len(flat) / 2 + 0.5) / (len(flat) / 2 + 0.5))
            for term, flat in self._postings.items()
        }

    def __len__(self) -> int:
        return len(self._doc_operations)

    @classmethod
    def cache_path(cls, cache_dir: Path) -> Path:
        return Path(cache_dir) / f"operation-index-{models.botocore_version()}.json"

    @classmethod
    def load(cls, cache_dir: Path) -> OperationIndex:
        """The index cached in `cache_dir`, built and written there first if missing, stale or corrupt.

        Loads of one cache file in this process take turns, so a load that starts while another
        builds (the start-up build and a first search) waits and reads the file instead of building.
        """
        path = cls.cache_path(cache_dir)
        with _load_lock(path):
            cached = cls._cached(path)
            return cached if cached is not None else cls._built(path)

    @classmethod
    def _cached(cls, path: Path) -> OperationIndex | None:
        data = _read_valid(path)
        if data is None:
            return None
        try:
            return cls(data)
        except (KeyError, TypeError, AttributeError):
            return None  # right header, damaged body: rebuild like any other corrupt file

    @classmethod
    def _built(cls, path: Path) -> OperationIndex:
        data = build_index_data()
        cls.builds += 1
        try:
            _write_atomically(path, json.dumps(data, separators=(",", ":")))
        except OSError as error:
            log.warning("operation index not cached in %s (%s); it will be rebuilt next start", path.parent, error)
        return cls(data)

    def resolve_service(self, name: str) -> str | None:
        """Botocore's name for a service written any common way (`EC2`, `Amazon S3`, `Secrets Manager`)."""
        key = canonical(name)
        return (self._hint_keys.get(key) or self._hint_keys.get(_VENDOR.sub("", key))) if key else None

    def search(self, query: str, service_hint: str | None = None, limit: int = 10) -> list[OperationHit]:
        """The `limit` best operations for `query`; `service_hint` boosts one service's operations."""
        if limit <= 0 or not query.strip():
            return []
        expanded = self._expand(query)
        if not any(term in self._postings for term in expanded.evidence):
            return []
        weights = expanded.weights
        scores: dict[int, float] = defaultdict(float)
        for term, weight in weights.items():
            flat = self._postings.get(term)
            if flat:
                factor = weight * self._idf[term] / SCALE
                for i in range(0, len(flat), 2):
                    scores[flat[i]] += factor * flat[i + 1]
        hinted = self.resolve_service(service_hint) if service_hint else None
        if hinted is not None:
            hinted_id = self._services.index(hinted)
            for doc_id in scores:
                if self._doc_services[doc_id] == hinted_id:
                    scores[doc_id] *= HINT_BOOST
        candidates = heapq.nlargest(max(RERANK_DEPTH, limit), scores.items(), key=itemgetter(1))
        reranked = sorted(
            ((doc_id, self._rerank(doc_id, score, weights)) for doc_id, score in candidates),
            key=lambda item: (-item[1], item[0]),
        )
        return [self._hit(doc_id, score) for doc_id, score in reranked[:limit]]

    def _expand(self, query: str) -> _QueryTerms:
        """Weighted terms for the query: its words, their synonyms, phrases, and the services they name."""
        found = _QueryTerms()
        text = _rewrite(query)
        _add_phrases(found, text.lower())
        has_verb = False
        for word in read_words(text):
            stemmed = stem(word.lower)
            if word.role == "state":
                for verb in READ_VERBS:
                    found.add(stem(verb), SYNONYM_WEIGHT * word.scale)
                continue
            if word.role == "verb":
                has_verb = True
                if word.lower not in VERB_SYNONYMS and stemmed not in READ_VERBS:
                    found.add(stem("create"), IMPLICIT_VERB_WEIGHT, implicit=True)  # invalidate -> CreateInvalidation
            named = self._named_service(word.lower)
            literal = word.scale * (SYNONYM_WEIGHT if named else 1.0)
            if word.lower in VERB_SYNONYMS and stemmed not in API_VERB_STEMS:
                literal = IMPLICIT_VERB_WEIGHT
            for term in {stemmed, *terms(word.raw)}:
                found.add(term, literal)
            for synonym in (*VERB_SYNONYMS.get(word.lower, ()), *_AWS_WORDS_BY_STEM.get(stemmed, ())):
                found.add(stem(synonym), SYNONYM_WEIGHT * word.scale)
            if named:
                found.add_service(named, SERVICE_TERM_WEIGHT)
            for service in _SERVICES_BY_NOUN_STEM.get(stemmed, ()):
                found.add_service(service, SYNONYM_WEIGHT)
        if not has_verb:
            for verb in READ_VERBS:
                found.add(stem(verb), IMPLICIT_VERB_WEIGHT, implicit=True)
        return found

    def _named_service(self, word: str) -> str | None:
        if word in self._known_services:
            return word
        return self._hint_keys.get(word) if len(word) > 2 else None

    def _rerank(self, doc_id: int, score: float, weights: dict[str, float]) -> float:
        """Favour names the query covers (`list tables`: ListTables over DescribeTable), core services, and
        the newest version of a versioned API."""
        service_id, operation = self._doc_services[doc_id], self._doc_operations[doc_id]
        name = name_terms(operation)
        coverage = sum(weights.get(term, 0.0) for term in name) / len(name) if name else 0.0
        score *= 1 + COVERAGE_WEIGHT * min(coverage, 1.0)
        if service_id in self._core_ids:
            score *= CORE_BOOST
        if _VERSION_SUFFIX.search(operation):
            score *= VERSION_BOOST
        return score

    def _hit(self, doc_id: int, score: float) -> OperationHit:
        return OperationHit(
            self._services[self._doc_services[doc_id]],
            self._doc_operations[doc_id],
            self._doc_descriptions[doc_id],
            self._classes[self._doc_classes[doc_id]],
            round(score, 4),
        )


def main(argv: list[str]) -> int:
    """`python -m catalog.search DIR`: build the index into DIR (the image's build and `make`'s venv targets)."""
    if len(argv) != 1:
        print("usage: python -m catalog.search <cache-dir>", file=sys.stderr)
        return 2
    cache_dir = Path(argv[0]).expanduser()
    index = OperationIndex.load(cache_dir)
    print(f"operation index: {len(index)} operations, {OperationIndex.cache_path(cache_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""One inventoried AWS resource, as collectors produce it and the store keeps it."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Resource:
    arn: str
    account: str
    region: str  # the resource's region, or "global" (IAM roles, Route53 zones)
    service: str  # e.g. "ec2"
    type: str  # "<service>:<resource type>", e.g. "ec2:instance", "s3:bucket", "sqs:queue"
    name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)

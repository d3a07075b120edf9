"""Route53: hosted zones, records and change batches. Zones are named by id or by domain."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from core.calls import ResolvedTarget, Target
from core.errors import InvalidInput, NotFound
from services.base import ServiceManager
from tooling import tool

RecordType = Literal["A", "AAAA", "CAA", "CNAME", "DS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV", "TXT"]


class HostedZone(BaseModel):
    id: str
    name: str
    private: bool
    record_count: int | None = None
    comment: str | None = None


class HostedZoneList(BaseModel):
    zones: list[HostedZone]
    next_token: str | None = Field(None, description="Pass as next_token for the next page; null when done")


class Record(BaseModel):
    name: str
    type: str
    ttl: int | None = None
    values: list[str] = []
    alias_target: str | None = Field(None, description="DNS name of the alias target, for alias records")
    set_identifier: str | None = None


class RecordList(BaseModel):
    zone_id: str
    records: list[Record]
    truncated: bool
    next_name: str | None = Field(None, description="Pass as name (with next_type as type) for the next page")
    next_type: str | None = None


class RecordChange(BaseModel):
    action: Literal["CREATE", "UPSERT", "DELETE"]
    name: str = Field(description="Record name, e.g. www.example.com")
    type: RecordType
    ttl: int = Field(300, ge=0, le=2147483647)
    values: list[str] = Field(min_length=1, description="Record values, e.g. ['192.0.2.10']")


class ChangeInfo(BaseModel):
    change_id: str
    status: str = Field(description="PENDING until the change reached every Route53 name server, then INSYNC")
    submitted_at: datetime | None = None
    comment: str | None = None


def _zone_id(raw_id: str) -> str:
    return raw_id.rsplit("/", 1)[-1]


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


Zone = Annotated[str, Field(description="Hosted zone id (Z123...) or domain name (example.com)")]


class Route53Manager(ServiceManager):
    service = "route53"
    toolset = "dns"

    @tool("List hosted zones", calls=("ListHostedZones",), idempotent=True)
    async def list_hosted_zones(
        self,
        target: Target,
        max_items: Annotated[int | None, Field(ge=1, le=100)] = None,
        next_token: Annotated[str | None, Field(description="next_token of the previous page")] = None,
    ) -> HostedZoneList:
        """List Route53 hosted zones with id, name, public/private and record count."""
        page = await self.call(target, "ListHostedZones", MaxItems=str(max_items or 100), Marker=next_token)
        zones = [
            HostedZone(
                id=_zone_id(zone["Id"]),
                name=zone["Name"],
                private=zone.get("Config", {}).get("PrivateZone", False),
                record_count=zone.get("ResourceRecordSetCount"),
                comment=zone.get("Config", {}).get("Comment"),
            )
            for zone in page.get("HostedZones", [])
        ]
        return HostedZoneList(zones=zones, next_token=page.get("NextMarker") if page.get("IsTruncated") else None)

    async def zone_id(self, target: ResolvedTarget, zone: str) -> str:
        """A hosted-zone id from an id (`Z123`, `/hostedzone/Z123`) or a domain name (`example.com`)."""
        zone = zone.strip()
        if "." not in zone.rstrip("."):
            return _zone_id(zone)
        page = await self.call(target, "ListHostedZonesByName", DNSName=_fqdn(zone), MaxItems="10")
        matches = [z for z in page.get("HostedZones", []) if z["Name"].lower() == _fqdn(zone).lower()]
        if not matches:
            raise NotFound(f"no hosted zone named {zone}", hint="list_hosted_zones shows the zones")
        if len(matches) > 1:
            ids = ", ".join(
                f"{_zone_id(z['Id'])} ({'private' if z['Config'].get('PrivateZone') else 'public'})" for z in matches
            )
            raise InvalidInput(f"several hosted zones are named {zone}: {ids}", hint="pass the zone id instead")
        return _zone_id(matches[0]["Id"])

    @tool("List DNS records", calls=("ListResourceRecordSets", "ListHostedZonesByName"), idempotent=True)
    async def list_records(
        self,
        target: Target,
        zone: Zone,
        name: Annotated[str | None, Field(description="Start at this record name")] = None,
        type: Annotated[RecordType | None, Field(description="Start at this type (needs name)")] = None,
        max_items: Annotated[int | None, Field(ge=1, le=300)] = None,
    ) -> RecordList:
        """List a hosted zone's DNS records, in Route53 order, from an optional (name, type) starting point."""
        record_type = type
        resolved = self.resolve(target)
        zone_id = await self.zone_id(resolved, zone)
        if record_type and not name:
            raise InvalidInput("type needs name: Route53 lists from a (name, type) starting point")
        page = await self.call(
            resolved,
            "ListResourceRecordSets",
            HostedZoneId=zone_id,
            StartRecordName=_fqdn(name) if name else None,
            StartRecordType=record_type,
            MaxItems=str(max_items or 100),
        )
        records = [
            Record(
                name=raw["Name"],
                type=raw["Type"],
                ttl=raw.get("TTL"),
                values=[r["Value"] for r in raw.get("ResourceRecords", [])],
                alias_target=raw.get("AliasTarget", {}).get("DNSName"),
                set_identifier=raw.get("SetIdentifier"),
            )
            for raw in page.get("ResourceRecordSets", [])
        ]
        truncated = bool(page.get("IsTruncated"))
        return RecordList(
            zone_id=zone_id,
            records=records,
            truncated=truncated,
            next_name=page.get("NextRecordName") if truncated else None,
            next_type=page.get("NextRecordType") if truncated else None,
        )

    @tool("Change DNS records", calls=("ChangeResourceRecordSets", "ListHostedZonesByName"))
    async def change_records(
        self,
        target: Target,
        zone: Zone,
        changes: Annotated[list[RecordChange], Field(min_length=1, description="Changes applied as one atomic batch")],
        comment: str | None = None,
    ) -> ChangeInfo:
        """Create, upsert or delete DNS records in one atomic batch. Batches with a DELETE need confirmation."""
        if not changes:
            raise InvalidInput("changes is empty", hint="give at least one {action, name, type, ttl, values}")
        resolved = self.resolve(target)
        zone_id = await self.zone_id(resolved, zone)
        batch = {
            "Changes": [
                {
                    "Action": change.action,
                    "ResourceRecordSet": {
                        "Name": _fqdn(change.name),
                        "Type": change.type,
                        "TTL": change.ttl,
                        "ResourceRecords": [{"Value": value} for value in change.values],
                    },
                }
                for change in changes
            ]
        }
        if comment:
            batch["Comment"] = comment
        summary = f"in hosted zone {zone_id}: " + "; ".join(
            f"{c.action.lower()} {c.type} {_fqdn(c.name)} {' '.join(c.values)}" for c in changes
        )
        raw = await self.call(resolved, "ChangeResourceRecordSets", summary, HostedZoneId=zone_id, ChangeBatch=batch)
        return _change_info(raw["ChangeInfo"])

    @tool("Get a DNS change status", calls=("GetChange",), idempotent=True)
    async def get_change(
        self, target: Target, change_id: Annotated[str, Field(description="change_id returned by change_records")]
    ) -> ChangeInfo:
        """Whether a Route53 change is still PENDING or INSYNC."""
        raw = await self.call(target, "GetChange", Id=_zone_id(change_id))
        return _change_info(raw["ChangeInfo"])


def _change_info(raw: dict) -> ChangeInfo:
    return ChangeInfo(
        change_id=_zone_id(raw["Id"]),
        status=raw["Status"],
        submitted_at=raw.get("SubmittedAt"),
        comment=raw.get("Comment"),
    )

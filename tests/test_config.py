"""Region settings: the regions people use are checked without reading botocore's data, the rest exactly."""

import pytest

import config
from config import COMMON_REGIONS, REGION_PATTERN, ConfigError, known_regions, load_settings


def _unread() -> frozenset[str]:
    raise AssertionError("botocore's endpoints.json must not be read for this region")


def test_regions_checked_without_botocore_data_are_regions_botocore_knows() -> None:
    regions = known_regions()
    assert COMMON_REGIONS.issubset(regions)
    assert all(REGION_PATTERN.fullmatch(region) for region in regions)


def test_common_regions_are_accepted_without_reading_botocores_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "known_regions", _unread)
    environment = {"AWS_REGION": "eu-west-1", "ACCOUNT_QA_PROFILE": "qa", "ACCOUNT_QA_REGION": "us-west-2"}
    settings = load_settings(environment, env_file=None)
    assert (settings.region, settings.account("qa").region) == ("eu-west-1", "us-west-2")


@pytest.mark.parametrize("region", ["eu-west", "US-EAST-1", "us-east-1 ", "us-east-1/x", "useast1"])
def test_names_not_shaped_like_a_region_are_refused_without_reading_botocores_endpoints(
    region: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "known_regions", _unread)
    with pytest.raises(ConfigError, match="AWS_REGION"):
        load_settings({"AWS_REGION": region}, env_file=None)


def test_other_regions_are_checked_against_botocores_partitions() -> None:
    assert load_settings({"AWS_REGION": "us-iso-east-1"}, env_file=None).region == "us-iso-east-1"
    with pytest.raises(ConfigError, match="ACCOUNT_QA_REGION"):
        load_settings({"ACCOUNT_QA_PROFILE": "qa", "ACCOUNT_QA_REGION": "mars-north-1"}, env_file=None)

"""Responses as JSON within a byte budget, and credential secrets masked."""

import datetime
import io

import pytest
from botocore.response import StreamingBody

from core.output import fit, size_of, to_json


def test_botocore_values_become_json() -> None:
    moment = datetime.datetime(2026, 11, 21, 8, 0, tzinfo=datetime.UTC)
    body = StreamingBody(io.BytesIO(b"0123456789"), 10)
    value, _ = to_json({"When": moment, "Text": b"hello", "Raw": b"\x00\xff", "Body": body}, body_limit=4)
    assert value == {
        "When": "2026-11-21T08:00:00+00:00",
        "Text": "hello",
        "Raw": {"base64": "AP8="},
        "Body": {"truncated_body": "0123", "bytes_shown": 4, "note": "the body is longer"},
    }


def test_small_results_are_untouched() -> None:
    value = {"Items": [1, 2, 3]}
    assert fit(value, 1000, "hint") == (value, None)


def test_the_largest_list_loses_its_tail_and_the_note_says_how_much() -> None:
    value = {"Small": list(range(5)), "Big": [{"Name": f"item-{i:04}", "Tags": ["a", "b"]} for i in range(500)]}
    fitted, truncation = fit(value, 2000, "narrow it")
    assert size_of(fitted) <= 2000
    assert fitted["Small"] == list(range(5))
    assert fitted["Big"] == value["Big"][: len(fitted["Big"])]
    [omitted] = truncation.omitted
    assert (omitted.path, omitted.total, omitted.kept) == ("Big", 500, len(fitted["Big"]))
    assert truncation.hint == "narrow it" and truncation.returned_bytes <= 2000 < truncation.original_bytes


def test_nested_lists_are_named_by_their_path() -> None:
    value = {"Reservations": [{"Instances": [{"Id": f"i-{n:017}"} for n in range(300)]}]}
    fitted, truncation = fit(value, 1500, "")
    assert [o.path for o in truncation.omitted] == ["Reservations[0].Instances"]
    assert size_of(fitted) <= 1500


def test_one_huge_text_is_shortened_with_a_marker() -> None:
    value = {"Policy": "x" * 10_000, "Name": "p"}
    fitted, truncation = fit(value, 2000, "")
    assert size_of(fitted) <= 2000 and fitted["Name"] == "p"
    assert fitted["Policy"].endswith("…[truncated]")
    assert truncation.omitted[0].path == "Policy" and truncation.omitted[0].total == 10_000


def test_credential_secrets_are_masked_wherever_they_are() -> None:
    response = {
        "Credentials": {"AccessKeyId": "ASIAX", "SecretAccessKey": "s3cr3t", "SessionToken": "tok"},
        "roleCredentials": {"secretAccessKey": "s3cr3t", "sessionToken": "tok"},
        "AccessKey": {"UserName": "u", "SecretAccessKey": "s3cr3t"},
    }
    masked, _ = to_json(response, body_limit=1000)
    assert "s3cr3t" not in str(masked) and "tok" not in str(masked).replace("Token", "")
    assert masked["Credentials"]["AccessKeyId"] == "ASIAX"


@pytest.mark.parametrize(
    "value",
    [
        {"Text": "x" * 1000},
        {"Items": [{"Id": index, "Name": "ü" * 10, "On": True, "Gone": None} for index in range(100)]},
        {"Kanji": "漢" * 500, "When": datetime.datetime(2026, 1, 1), "Blob": b"\x00" * 64},
    ],
)
def test_approximate_size_is_within_the_factor_the_output_cap_relies_on(value) -> None:
    """`present` skips the exact size check when four times the estimate is under the cap."""
    data, approximate = to_json(value, body_limit=1000)
    assert size_of(data) <= 4 * approximate

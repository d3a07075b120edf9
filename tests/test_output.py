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


# --- secrets users put where AWS does not mark them ------------------------------------------------------


def shape_of(service: str, operation: str):
    from catalog.models import operation_model

    return operation_model(service, operation).output_shape


LAMBDA_CONFIGURATION = {
    "FunctionName": "fn",
    "Environment": {
        "Variables": {
            "DB_PASSWORD": "hunter2",
            "STRIPE": "sk_live_0123456789abcdef",
            "BASIC_AUTH": "ops:hunter2",
            "DATABASE_URL": "postgres://app:hunter2@db.internal:5432/app",
            "CACHE_URL": "redis://:hunter2@x@cache.internal:6379",
            "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
            "TOKEN_TTL": "300",
            "LOG_LEVEL": "debug",
            "AUTHOR": "ops-team",
        }
    },
}


def test_an_environment_keeps_what_an_sre_needs_and_masks_what_names_or_looks_like_a_secret() -> None:
    masked, _ = to_json(LAMBDA_CONFIGURATION, 1000, shape_of("lambda", "GetFunctionConfiguration"))
    assert masked["Environment"]["Variables"] == {
        "DB_PASSWORD": "***",
        "STRIPE": "***",
        "BASIC_AUTH": "***",
        "DATABASE_URL": "postgres://app:***@db.internal:5432/app",
        "CACHE_URL": "redis://:***@cache.internal:6379",
        "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
        "TOKEN_TTL": "300",
        "LOG_LEVEL": "debug",
        "AUTHOR": "ops-team",
    }
    assert "hunter2" not in str(masked) and "sk_live" not in str(masked)


def test_a_sensitive_read_reveals_what_it_was_asked_for_but_never_credential_members() -> None:
    response = {**LAMBDA_CONFIGURATION, "Credentials": {"AccessKeyId": "ASIAX", "SecretAccessKey": "s3cr3t"}}
    revealed, _ = to_json(response, 1000, shape_of("lambda", "GetFunctionConfiguration"), reveal=True)
    assert revealed["Environment"] == LAMBDA_CONFIGURATION["Environment"]
    assert revealed["Credentials"]["SecretAccessKey"] == "***"


def test_name_value_pairs_mask_the_value_of_a_secret_name_or_a_credential_value() -> None:
    response = {
        "taskDefinition": {
            "containerDefinitions": [
                {
                    "name": "web",
                    "environment": [
                        {"name": "API_TOKEN", "value": "t0k3n"},
                        {"name": "PORT", "value": "8080"},
                        {"name": "UPSTREAM", "value": "https://svc:hunter2@upstream.internal/"},
                        {"name": "GITHUB", "value": "ghp_" + "a" * 36},
                    ],
                }
            ]
        },
        "tags": [{"key": "team", "value": "payments"}, {"key": "slack-webhook-token", "value": "xoxb-0123456789-x"}],
    }
    masked, _ = to_json(response, 1000, shape_of("ecs", "DescribeTaskDefinition"))
    environment = masked["taskDefinition"]["containerDefinitions"][0]["environment"]
    assert [pair["value"] for pair in environment] == ["***", "8080", "https://svc:***@upstream.internal/", "***"]
    assert masked["tags"] == [{"key": "team", "value": "payments"}, {"key": "slack-webhook-token", "value": "***"}]
    stack, _ = to_json({"Parameters": [{"ParameterKey": "DbPassword", "ParameterValue": "hunter2"}]}, 1000)
    assert stack["Parameters"][0]["ParameterValue"] == "***"


def test_names_aws_chose_are_not_user_secrets() -> None:
    """Structure members are AWS's names: `PrivateIpAddress` or `KeyName` say nothing about their values, and a
    map of AWS's own (a tag map) is judged entry by entry."""
    instance = {"PrivateIpAddress": "10.0.0.7", "KeyName": "ops", "PrivateDnsName": "ip-10-0-0-7.ec2.internal"}
    masked, _ = to_json({"Reservations": [{"Instances": [instance]}]}, 1000, shape_of("ec2", "DescribeInstances"))
    assert masked["Reservations"][0]["Instances"][0] == instance
    tags, _ = to_json(
        {"Tags": {"private-subnet": "true", "db-password": "hunter2"}}, 1000, shape_of("lambda", "ListTags")
    )
    assert tags["Tags"] == {"private-subnet": "true", "db-password": "***"}


def test_a_private_key_is_masked_wherever_it_is_text_or_a_blob() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"
    masked, _ = to_json({"Description": f"key: {pem}", "UserData": pem.encode()}, 1000)
    assert masked == {
        "Description": "key: -----BEGIN RSA PRIVATE KEY-----***\n",
        "UserData": "-----BEGIN RSA PRIVATE KEY-----***\n",
    }

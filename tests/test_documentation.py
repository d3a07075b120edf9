"""Configuration cannot drift: every variable the code reads is in .env.example and README."""

import re
from pathlib import Path

from config import settings_variables

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_VARIABLES = [
    "ACCOUNT_<NAME>_ROLE_ARN",
    "ACCOUNT_<NAME>_PROFILE",
    "ACCOUNT_<NAME>_REGION",
    "ACCOUNT_<NAME>_EXTERNAL_ID",
]


def test_every_setting_is_documented_in_env_example_and_readme():
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for variable in settings_variables():
        assert re.search(rf"^#?\s*{variable}=", example, re.M), f"{variable} missing from .env.example"
        assert f"`{variable}`" in readme, f"{variable} missing from README's configuration table"
    for variable in ACCOUNT_VARIABLES:
        assert f"`{variable}`" in readme
        assert variable.replace("<NAME>", "PROD") in example


def test_every_environment_read_in_code_is_a_documented_setting():
    documented = set(settings_variables()) | {"AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"}
    readme = (ROOT / "README.md").read_text()
    for path in ROOT.glob("*.py"):
        for variable in re.findall(r"environ(?:\.get)?\(\s*\"([A-Z_]+)\"", path.read_text()):
            assert variable in documented or f"`{variable}`" in readme, (
                f"{path.name} reads {variable}, which is not documented"
            )


def test_readme_quick_start_is_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()

"""finml.secrets with real sops and age: a throwaway key, files encrypted to it, the
environment overriding the file, and errors that name the file but never a value."""

from __future__ import annotations

import logging
import re
import traceback
from pathlib import Path

import pytest
import structlog

import finml.secrets
from finml.config import ProjectConfig, secret
from finml.errors import ConfigError, SecretsError
from finml.secrets import SecretStore, age_key_source, secrets_file
from secret_tools import REPO, AgeKey, age_key, encrypt, tool

API_KEY = "fh-Zq8-value-from-the-file"
TOKEN = "tok-Xy7-bearer"
PLAIN = f"FINNHUB_API_KEY: {API_KEY}\nFINML_API_TOKEN: {TOKEN}\nSMTP_RETRIES: 3\n"


@pytest.fixture
def key(tmp_path: Path) -> AgeKey:
    return age_key(tmp_path)


@pytest.fixture
def enc_file(tmp_path: Path, key: AgeKey) -> Path:
    return encrypt(PLAIN, tmp_path / "secrets" / "dev.enc.yaml", key.recipient)


def store(file: Path, key_file: Path | None, **environ: str) -> SecretStore:
    if key_file is not None:
        environ["SOPS_AGE_KEY_FILE"] = str(key_file)
    return SecretStore(file, environ={"HOME": "/nonexistent", **environ}, sops=tool("sops"))


def assert_no_value(text: str) -> None:
    for value in (API_KEY, TOKEN):
        assert value not in text


def test_an_encrypted_file_decrypts_with_its_key(enc_file: Path, key: AgeKey) -> None:
    assert API_KEY not in enc_file.read_text()  # the file on disk is ciphertext
    found = store(enc_file, key.file)
    assert found.unused_reason() is None
    assert found.value("FINNHUB_API_KEY") == API_KEY
    assert found.value("SMTP_RETRIES") == "3"  # scalars become strings
    assert found.origin("FINML_API_TOKEN") == "file" and found.origin("NOPE") == "unset"
    assert found.get("NOPE") is None
    assert_no_value(repr(found.get("FINNHUB_API_KEY")) + str(found.get("FINNHUB_API_KEY")))


def test_the_key_can_be_given_inline(enc_file: Path, key: AgeKey) -> None:
    inline = next(line for line in key.file.read_text().splitlines() if line.startswith("AGE-"))
    found = store(enc_file, None, SOPS_AGE_KEY=inline)
    assert age_key_source(found.environ) == "SOPS_AGE_KEY"
    assert found.value("FINML_API_TOKEN") == TOKEN


def test_environment_variables_override_the_file(enc_file: Path, key: AgeKey) -> None:
    found = store(enc_file, key.file, FINNHUB_API_KEY="from-env")
    assert found.value("FINNHUB_API_KEY") == "from-env"
    assert found.origin("FINNHUB_API_KEY") == "environment"
    assert found.value("FINML_API_TOKEN") == TOKEN  # the others still come from the file


def test_a_wrong_key_is_a_clear_error_without_secret_text(tmp_path: Path, enc_file: Path) -> None:
    other = age_key(tmp_path, "other")
    with pytest.raises(SecretsError) as caught:
        store(enc_file, other.file).get("FINNHUB_API_KEY")
    message = str(caught.value)
    assert str(enc_file) in message and "no age key given can decrypt it" in message
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert_no_value("".join(traceback.format_exception(caught.value)))


def test_a_plaintext_file_is_refused_without_echoing_it(tmp_path: Path, key: AgeKey) -> None:
    plain = tmp_path / "secrets" / "dev.enc.yaml"
    plain.parent.mkdir()
    plain.write_text(PLAIN)  # someone forgot to encrypt it
    with pytest.raises(SecretsError, match="not a sops-encrypted file") as caught:
        store(plain, key.file).get("FINNHUB_API_KEY")
    assert_no_value(str(caught.value))


def test_a_nested_value_is_malformed_naming_the_key_only(tmp_path: Path, key: AgeKey) -> None:
    file = encrypt(f"db:\n  password: {API_KEY}\n", tmp_path / "s.enc.yaml", key.recipient)
    with pytest.raises(SecretsError, match=r"key 'db': expected a string, got a dict") as caught:
        store(file, key.file).get("db")
    assert_no_value(str(caught.value))


def test_a_missing_sops_binary_names_the_file(enc_file: Path, key: AgeKey) -> None:
    broken = SecretStore(enc_file, environ={"SOPS_AGE_KEY_FILE": str(key.file)}, sops="/no/sops")
    with pytest.raises(SecretsError, match=r"dev\.enc\.yaml: sops /no/sops did not run"):
        broken.get("FINNHUB_API_KEY")


def test_without_a_key_or_a_file_only_the_environment_counts(
    tmp_path: Path, enc_file: Path
) -> None:
    keyless = store(enc_file, None)
    assert keyless.unused_reason() is not None and "no age key" in keyless.unused_reason()
    assert keyless.get("FINNHUB_API_KEY") is None
    with pytest.raises(ConfigError, match="FINNHUB_API_KEY: expected a secret") as caught:
        keyless.require("FINNHUB_API_KEY")
    assert "no age key" in str(caught.value)
    absent = store(tmp_path / "secrets" / "prd.enc.yaml", None, FINNHUB_API_KEY="env-only")
    assert absent.value("FINNHUB_API_KEY") == "env-only"


def test_the_config_finds_its_environments_file(
    tmp_path: Path, enc_file: Path, key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "project_config.yml").write_text((REPO / "project_config.yml").read_text())
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.file))
    monkeypatch.setenv("FINML_SOPS", tool("sops"))
    monkeypatch.delenv("FINNHUB_API_KEY", raising=False)
    monkeypatch.delenv("FINML_SECRETS_FILE", raising=False)
    config = ProjectConfig.from_yaml(tmp_path / "project_config.yml", env="dev")
    assert config.secrets.file == enc_file.resolve()
    assert secrets_file(tmp_path, "acc") == tmp_path / "secrets" / "acc.enc.yaml"
    capture = structlog.testing.LogCapture()  # every level, whatever the tests' log level
    every_level = structlog.make_filtering_bound_logger(logging.DEBUG)
    logger = structlog.wrap_logger(None, processors=[capture], wrapper_class=every_level)
    monkeypatch.setattr(finml.secrets, "log", logger)
    value = secret("FINNHUB_API_KEY", required=True, config=config)
    assert value is not None and value.get_secret_value() == API_KEY
    assert [e["event"] for e in capture.entries] == ["secrets_decrypted"]
    assert capture.entries[0]["names"] == 3
    assert_no_value(str(capture.entries))
    assert_no_value(config.model_dump_json() + repr(config))


def test_the_repository_rules_encrypt_each_environment_to_its_recipients(
    tmp_path: Path, key: AgeKey
) -> None:
    rules = (REPO / ".sops.yaml").read_text()
    envs = re.findall(r"secrets/(\w+)\\\.enc\\\.yaml", rules)
    assert envs == ["dev", "acc", "prd"]
    assert "AGE-SECRET-KEY" not in rules.upper()  # public keys only
    # the same rules with the placeholder recipients replaced by this test's key
    (tmp_path / ".sops.yaml").write_text(re.sub(r"age1[0-9a-z]+", key.recipient, rules))
    for env in envs:
        file = encrypt(PLAIN, tmp_path / "secrets" / f"{env}.enc.yaml")
        assert key.recipient in file.read_text()
        assert store(file, key.file).value("FINML_API_TOKEN") == TOKEN

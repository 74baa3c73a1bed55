"""Secrets from the environment, else from a SOPS file encrypted to age recipients.

``secrets/<env>.enc.yaml`` (or ``$FINML_SECRETS_FILE``) holds a flat mapping of secret
names (the environment variables FinML reads, e.g. ``FINNHUB_API_KEY``) to values. When the
file exists and an age key is available (``SOPS_AGE_KEY_FILE``, ``SOPS_AGE_KEY`` or sops'
default ``~/.config/sops/age/keys.txt``), :class:`SecretStore` runs ``sops decrypt`` once
(a subprocess, no shell), keeps the mapping in memory only and serves values by name; an
environment variable of the same name always wins. Nothing decrypted is written to disk,
logged or put in an exception: sops' own stderr can echo file content, so errors name the
file and a fixed description of the cause, never sops' text.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from finml.errors import ConfigError, SecretsError
from finml.log import get_logger

__all__ = [
    "SECRETS_FILE_ENV",
    "SECRET_VARIABLES",
    "Origin",
    "SecretStore",
    "age_key_source",
    "default_store",
    "reject_secret_keys",
    "secrets_file",
    "sops_binary",
    "store_for",
]

log = get_logger(__name__)

SECRETS_FILE_ENV = "FINML_SECRETS_FILE"
SECRETS_FOLDER = "secrets"
SOPS_TIMEOUT_S = 60.0
Origin = Literal["environment", "file", "unset"]
# Secrets FinML knows about: from the environment, else the encrypted file. The SMTP
# password and webhook URLs of alert channels are looked up the same way, under the variable
# name their channel gives (``auth_env``, ``url_env``).
SECRET_VARIABLES = (
    "FINNHUB_API_KEY",
    "ALPHAVANTAGE_API_KEY",
    "FINML_API_TOKEN",
    "FINML_MLOPS_READ_TOKENS",
    "FINML_MLOPS_OPERATE_TOKENS",
    "FINML_ALERT_WEBHOOK_SECRET",
    "DATABRICKS_TOKEN",
)
_SECRET_WORDS = ("api_key", "apikey", "token", "password", "secret")

# sops' stderr, mapped to fixed text: the raw stderr may quote the (decrypted) file.
_CAUSES = (
    ("could not decrypt data key", "no age key given can decrypt it (wrong key?)"),
    ("error getting data key", "no age key given can decrypt it (wrong key?)"),
    ("failed to get the data key", "no age key given can decrypt it (wrong key?)"),
    ("mac mismatch", "its MAC does not match (the file was edited without sops?)"),
    ("sops metadata not found", "it is not a sops-encrypted file (no sops metadata)"),
    ("error unmarshalling", "it is not valid YAML"),
    ("error loading file", "it could not be parsed"),
)


def secrets_file(root: Path | None, env: str) -> Path | None:
    """``$FINML_SECRETS_FILE``, else ``secrets/<env>.enc.yaml`` of the project at ``root``
    (the config file's folder; None: no file)."""
    explicit = os.environ.get(SECRETS_FILE_ENV)
    if explicit:
        return Path(explicit)
    return root / SECRETS_FOLDER / f"{env}.enc.yaml" if root is not None else None


def reject_secret_keys(node: Any, file: Path, trail: str = "") -> None:
    """Refuse a config-file key that looks like a secret, at any depth.

    Raises:
        ConfigError: naming the file and the key path (never the value).
    """
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{trail}.{key}" if trail else str(key)
            if any(word in str(key).lower() for word in _SECRET_WORDS):
                raise ConfigError(
                    f"config file {file}: field {where!r} looks like a secret; secrets are "
                    f"read from the environment or secrets/<env>.enc.yaml (sops), e.g. "
                    f"{', '.join(SECRET_VARIABLES)}"
                )
            reject_secret_keys(value, file, where)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            reject_secret_keys(item, file, f"{trail}[{index}]")


def age_key_source(environ: Mapping[str, str]) -> str | None:
    """Where sops will find an age private key (a variable's name or sops' default file);
    None when it will find none."""
    if environ.get("SOPS_AGE_KEY"):
        return "SOPS_AGE_KEY"
    key_file = environ.get("SOPS_AGE_KEY_FILE")
    if key_file:
        return "SOPS_AGE_KEY_FILE" if Path(key_file).is_file() else None
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    default = Path(config_home) / "sops" / "age" / "keys.txt"
    return str(default) if default.is_file() else None


def sops_binary(file: Path | None = None) -> str | None:
    """``$FINML_SOPS``, else ``sops`` on PATH, else the project's ``.tools/bin/sops`` (what
    ``make tools`` installs) beside the secrets folder of ``file``."""
    explicit = os.environ.get("FINML_SOPS")
    if explicit:
        return explicit
    found = shutil.which("sops")
    if found:
        return found
    if file is not None:
        local = file.resolve().parent.parent / ".tools" / "bin" / "sops"
        if local.is_file():
            return str(local)
    return None


class SecretStore:
    """Secrets by name: the environment first, then the decrypted ``file`` (if usable).

    Args:
        file: the sops-encrypted YAML file (None, or a missing file: the environment only).
        environ: where variables are read, live at each lookup (default ``os.environ``).
        sops: the sops executable (default :func:`sops_binary`).
    """

    def __init__(
        self,
        file: Path | None,
        *,
        environ: Mapping[str, str] | None = None,
        sops: str | None = None,
    ) -> None:
        self.file = file
        self.environ = os.environ if environ is None else environ
        self.sops = sops
        self._values: dict[str, str] | None = None

    def unused_reason(self) -> str | None:
        """Why the file is not read (no file, no key), or None when it is."""
        if self.file is None or not self.file.is_file():
            return "no such file" if self.file else "no secrets file configured"
        if age_key_source(self.environ) is None:
            return "no age key (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY or sops' keys.txt)"
        return None

    def get(self, name: str) -> SecretStr | None:
        """The secret ``name`` (environment first), or None when neither has it.

        Raises:
            SecretsError: the file should be read and sops is missing or fails.
        """
        value = self.environ.get(name) or self.file_values().get(name)
        return SecretStr(value) if value else None

    def value(self, name: str) -> str | None:
        """The plain value of :meth:`get`, for code that hands it straight to a client."""
        found = self.get(name)
        return found.get_secret_value() if found else None

    def require(self, name: str) -> SecretStr:
        """Like :meth:`get`, but a missing secret is a ``ConfigError`` saying where it looked."""
        found = self.get(name)
        if found is None:
            reason = self.unused_reason()
            where = f"{self.file}" + (f" ({reason})" if reason else "")
            raise ConfigError(
                f"secret {name}: expected a secret in the environment or in {where}, found none"
            )
        return found

    def origin(self, name: str) -> Origin:
        """Where :meth:`get` finds ``name`` (never the value)."""
        if self.environ.get(name):
            return "environment"
        return "file" if self.file_values().get(name) else "unset"

    def file_values(self) -> Mapping[str, str]:
        """The decrypted mapping (empty when the file is not used), decrypted once."""
        if self.unused_reason():
            return {}
        if self._values is None:
            self._values = self._decrypt()
        return self._values

    def _decrypt(self) -> dict[str, str]:
        assert self.file is not None  # unused_reason() checked it
        sops = self.sops or sops_binary(self.file)
        if sops is None:
            raise SecretsError(
                f"secrets file {self.file}: expected the sops executable to decrypt it, found "
                "none ($FINML_SOPS, PATH, .tools/bin; `make tools` installs it)"
            )
        command = [sops, "decrypt", "--output-type", "json", str(self.file)]
        env = {**self.environ, "SOPS_DISABLE_VERSION_CHECK": "1"}
        try:
            done = subprocess.run(  # fixed argv, no shell
                command, capture_output=True, env=env, timeout=SOPS_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            cause = type(exc).__name__
            raise SecretsError(
                f"secrets file {self.file}: sops {sops} did not run ({cause})"
            ) from None
        if done.returncode != 0:
            cause = _cause(done.stderr.decode(errors="replace"))
            raise SecretsError(
                f"secrets file {self.file}: sops could not decrypt it: {cause} "
                f"(exit code {done.returncode})"
            )
        values = _flat_strings(done.stdout, self.file)
        log.info("secrets_decrypted", file=str(self.file), names=len(values))
        return values


def _cause(stderr: str) -> str:
    text = stderr.lower()
    for needle, cause in _CAUSES:
        if needle in text:
            return cause
    return "an error sops reported (its message is not shown: it may quote the file)"


def _flat_strings(stdout: bytes, file: Path) -> dict[str, str]:
    try:
        document = json.loads(stdout)
    except ValueError:
        raise SecretsError(f"secrets file {file}: expected JSON from sops, got none") from None
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise SecretsError(f"secrets file {file}: expected a mapping of names, got a {kind}")
    values: dict[str, str] = {}
    for key, value in document.items():
        if key == "sops":
            continue
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            kind = type(value).__name__
            raise SecretsError(f"secrets file {file}: key {key!r}: expected a string, got a {kind}")
        values[str(key)] = str(value)
    return values


_STORES: dict[Path | None, SecretStore] = {}


def default_store() -> SecretStore:
    """The store of a process with no config at hand: the environment, then
    ``$FINML_SECRETS_FILE`` if set."""
    return store_for(secrets_file(None, ""))


def store_for(file: Path | None) -> SecretStore:
    """The process's store of ``file`` (one decryption per file and process)."""
    key = file.resolve() if file is not None else None
    if key not in _STORES:
        _STORES[key] = SecretStore(key)
    return _STORES[key]

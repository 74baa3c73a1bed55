"""Real sops and age for the secrets tests: a throwaway age key and files encrypted to it.

The tools come from ``make tools`` (Debian's age, sops built into ``.tools/bin``); where they
are missing the tests skip, saying which one and how to install it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    """The path of ``name`` (PATH, then ``.tools/bin``), else skip the test saying why."""
    found = shutil.which(name) or shutil.which(name, path=str(REPO / ".tools" / "bin"))
    if found is None:
        pytest.skip(f"{name} is not installed: `make tools` installs age (apt) and sops (go)")
    return found


@dataclass(frozen=True)
class AgeKey:
    file: Path  # the private key (in the test's tmp_path only)
    recipient: str  # the public key


def age_key(folder: Path, name: str = "key") -> AgeKey:
    """A fresh age key pair, written to ``folder/<name>.txt``."""
    file = folder / f"{name}.txt"
    subprocess.run([tool("age-keygen"), "-o", str(file)], check=True, capture_output=True)
    recipient = re.search(r"age1[0-9a-z]+", file.read_text())
    assert recipient is not None
    return AgeKey(file, recipient.group(0))


def encrypt(plain_yaml: str, target: Path, recipient: str | None = None) -> Path:
    """``plain_yaml`` encrypted with sops to ``target``, read from stdin (no plaintext file).

    With ``recipient`` the file is encrypted to it; without, ``.sops.yaml``'s creation rules
    (found from ``target``'s folder upwards) choose the recipients.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [tool("sops"), "encrypt", "--input-type", "yaml", "--output-type", "yaml"]
    command += ["--age", recipient] if recipient else []
    command += ["--filename-override", str(target), "--output", str(target), "/dev/stdin"]
    subprocess.run(
        command,
        input=plain_yaml.encode(),
        capture_output=True,
        check=True,
        cwd=target.parent,
        env={"SOPS_DISABLE_VERSION_CHECK": "1", "PATH": "/usr/bin:/bin"},
    )
    return target

"""Validated identifiers and three-part table names.

Names reach SQL text and file paths, so they are checked against a strict pattern and
never spliced in raw. Unity Catalog treats names case-insensitively and stores them in
lower case; :class:`TableName` does the same so local paths and UC names agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from finml.errors import InvalidIdentifier

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def validate_identifier(value: object, kind: str = "identifier") -> str:
    """Return ``value`` if it is a safe SQL identifier, else raise.

    A safe identifier is 1-128 ASCII letters, digits or underscores, not starting with a
    digit. Anything else (dots, quotes, spaces, slashes, unicode look-alikes) is rejected.

    Raises:
        InvalidIdentifier: naming ``kind``, the expected form and the value found.
    """
    if not isinstance(value, str) or _IDENTIFIER.fullmatch(value) is None:
        raise InvalidIdentifier(
            f"{kind}: expected 1-128 characters of [A-Za-z0-9_] not starting with a digit, "
            f"got {value!r}"
        )
    return value


def quote(identifier: str) -> str:
    """Back-quote a validated identifier for Spark SQL."""
    return f"`{validate_identifier(identifier)}`"


@dataclass(frozen=True, order=True)
class TableName:
    """``catalog.schema.table``, each part a validated lower-case identifier."""

    catalog: str
    schema: str
    table: str

    def __post_init__(self) -> None:
        for part in ("catalog", "schema", "table"):
            value = validate_identifier(getattr(self, part), f"{part} name")
            object.__setattr__(self, part, value.lower())

    @classmethod
    def parse(cls, name: str, catalog: str | None = None, schema: str | None = None) -> TableName:
        """Parse ``catalog.schema.table``; a shorter name takes the missing parts given.

        Raises:
            InvalidIdentifier: the name has more than three parts, a part is invalid, or a
                missing part has no default.
        """
        if not isinstance(name, str):
            raise InvalidIdentifier(f"table name: expected a string, got {name!r}")
        parts = name.split(".")
        if len(parts) > 3:
            raise InvalidIdentifier(
                f"table name: expected at most 3 dot-separated parts, got {name!r}"
            )
        defaults = [catalog, schema]
        full = [*defaults[: 3 - len(parts)], *parts]
        if any(part is None for part in full):
            raise InvalidIdentifier(
                f"table name: expected catalog.schema.table (or a default catalog/schema), "
                f"got {name!r}"
            )
        return cls(*full)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.table}"

    @property
    def sql(self) -> str:
        """The name quoted for Spark SQL: ```catalog`.`schema`.`table```."""
        return ".".join(quote(part) for part in (self.catalog, self.schema, self.table))

    def path(self, warehouse: Path) -> Path:
        """Local location: ``<warehouse>/<catalog>/<schema>/<table>``."""
        return Path(warehouse) / self.catalog / self.schema / self.table

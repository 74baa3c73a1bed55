"""Run a wheel entry point as a ``spark-submit`` script: ``entry.py <package> <entry_point> args``.

The local job runner uses it for ``python_wheel_task`` (Databricks calls the entry point of
the installed wheel directly). The entry point is looked up in the package's
``console_scripts`` and called with ``sys.argv`` set as Databricks does.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("entry.py: expected <package_name> <entry_point> [parameters...]", file=sys.stderr)
        return 2
    package, name, *parameters = argv
    found = [ep for ep in entry_points(group="console_scripts") if ep.name == name]
    if not found:
        print(
            f"python_wheel_task {package}: expected console_scripts entry point {name!r}, got none",
            file=sys.stderr,
        )
        return 2
    sys.argv = [name, *parameters]
    result = found[0].load()()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

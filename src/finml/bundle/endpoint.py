"""The model serving endpoint of a target, resolved: served versions and the traffic split.

``resources/model_serving.yml`` declares ``model_serving_endpoints`` under
``targets.serving.resources`` only, so no target's default deploy creates an endpoint before
a champion exists (a serving endpoint needs a real version number). This module resolves a
target's endpoint with its variables (:func:`endpoint_traffic`, what ``finml serve
--traffic-from-bundle`` splits by) and checks it (:func:`endpoint_problems`, part of
``finml bundle validate``): the routes name served entities and sum to 100 %, and, for the
target being deployed, the champion has a version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from finml.bundle.loader import Bundle, Problem
from finml.bundle.variables import Context, build_context, resolve
from finml.errors import JobError

KIND = "model_serving_endpoints"
CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class EndpointTraffic:
    """One endpoint of a target after variable resolution.

    ``versions``: served entity name -> entity version ('' when unset); ``percents``: served
    entity name -> traffic percentage of its route.
    """

    key: str
    name: str
    entity_name: str
    versions: dict[str, str]
    percents: dict[str, int]

    @property
    def champion_version(self) -> str:
        return self.versions.get(CHAMPION, "")

    @property
    def challenger_version(self) -> str:
        return self.versions.get(CHALLENGER, "")

    @property
    def challenger_percent(self) -> int:
        return self.percents.get(CHALLENGER, 0)


def endpoints(bundle: Bundle, target: str) -> dict[str, dict[str, Any]]:
    """Raw endpoint mappings ``target`` deploys (the bundle's own and the target's)."""
    own = bundle.target_resources.get(target, {}).get(KIND, {})
    return {**bundle.resources.get(KIND, {}), **own}


def endpoint_traffic(
    bundle: Bundle, target: str, overrides: dict[str, str] | None = None
) -> EndpointTraffic:
    """The resolved endpoint of ``target`` (``overrides``: ``--var`` values).

    Raises:
        JobError: the target is unknown, has no endpoint or several, or its endpoint is
            invalid (the message names file and key, as ``finml bundle validate`` would).
    """
    found = endpoints(bundle, target)
    if len(found) != 1:
        raise JobError(
            f"databricks.yml: targets.{target}: expected one {KIND} resource, "
            f"got {sorted(found) or 'none'}"
        )
    context = build_context(bundle, target, overrides)
    problems = endpoint_problems(bundle, target, context, require_champion=True)
    if problems:
        raise JobError(str(problems[0]))
    [(key, raw)] = found.items()
    return _traffic(key, resolve(raw, context, f"resources.{KIND}.{key}"))


def endpoint_problems(
    bundle: Bundle, target: str, context: Context, *, require_champion: bool
) -> list[Problem]:
    """Every problem of ``target``'s endpoints; ``require_champion``: the target is being
    deployed, so an empty champion version is one (else only the split is checked)."""
    out = []
    for key, raw in endpoints(bundle, target).items():
        source = bundle.sources.get(f"targets.{target}.{KIND}.{key}")
        file = bundle.rel(source or bundle.source_of(KIND, key))
        base = f"targets.{target}.resources.{KIND}.{key}"
        try:
            traffic = _traffic(key, resolve(raw, context, base))
        except (JobError, TypeError, ValueError, KeyError) as exc:
            out.append(Problem(file, base, f"expected a resolvable endpoint, got {exc}"))
            continue
        out += [Problem(file, f"{base}.{where}", msg) for where, msg in _split_problems(traffic)]
        if require_champion and not traffic.champion_version:
            out.append(_no_champion(target, traffic))
    return out


def _no_champion(target: str, traffic: EndpointTraffic) -> Problem:
    return Problem(
        "databricks.yml",
        f"targets.{target}.variables.champion_version",
        f"expected the version of {traffic.entity_name} the endpoint {traffic.key} serves as "
        f"champion (deploy it once a champion exists: --var champion_version=N), got none",
    )


def _split_problems(traffic: EndpointTraffic) -> list[tuple[str, str]]:
    out = []
    for name, version in traffic.versions.items():
        if version and not version.isdigit():
            out.append(("config.served_entities", f"expected {name}'s version, got {version!r}"))
    unknown = sorted(set(traffic.percents) - set(traffic.versions))
    if unknown:
        out.append(
            (
                "config.traffic_config.routes",
                f"expected routes to served entities {sorted(traffic.versions)}, got {unknown}",
            )
        )
    total = sum(traffic.percents.values())
    if total != 100 or any(not 0 <= p <= 100 for p in traffic.percents.values()):
        out.append(
            (
                "config.traffic_config.routes",
                f"expected traffic percentages in [0, 100] summing to 100, got {traffic.percents}",
            )
        )
    return out


def _traffic(key: str, resolved: dict[str, Any]) -> EndpointTraffic:
    config = resolved.get("config") or {}
    entities = config.get("served_entities") or []
    routes = (config.get("traffic_config") or {}).get("routes") or []
    versions = {str(e.get("name")): str(e.get("entity_version") or "") for e in entities}
    percents = {
        str(r.get("served_model_name") or r.get("served_entity_name")): _percent(r) for r in routes
    }
    entity = str(entities[0].get("entity_name", "")) if entities else ""
    return EndpointTraffic(key, str(resolved.get("name", key)), entity, versions, percents)


def _percent(route: dict[str, Any]) -> int:
    value = str(route.get("traffic_percentage", "")).strip()
    if not value.lstrip("-").isdigit():
        raise ValueError(f"traffic_percentage {value!r}, expected an integer")
    return int(value)

"""Which team file a reviewed resource comes from, so a policy violation names the file and pool.

Every resource of a pool is named after `<team>-<pool>` (the pool's key, injective across teams:
`arc_eks.config.teams`), and a team's own resources after `<team>`; the longest key that prefixes
a resource's name is its origin.
"""

from __future__ import annotations

from pathlib import Path

from arc_eks.config.yaml_files import TEAM_FILE_MAX_BYTES, load_yaml


def team_file_origins(teams_dir: Path) -> dict[str, str]:
    """Name prefix -> where it is declared, e.g. `payments-build` -> `teams/payments.yaml:
    pools[0] (build)`. Files the program refused never reach a review, so this reads leniently."""
    origins: dict[str, str] = {}
    for path in sorted(teams_dir.glob("*")):
        if path.suffix not in {".yaml", ".yml"}:
            continue
        document = load_yaml(path, path.name, max_bytes=TEAM_FILE_MAX_BYTES).document
        if not isinstance(document, dict) or not isinstance(document.get("team"), str):
            continue
        team, source = document["team"], f"teams/{path.name}"
        origins[team] = source
        for index, pool in enumerate(document.get("pools") or []):
            if isinstance(pool, dict) and isinstance(pool.get("name"), str):
                origins[f"{team}-{pool['name']}"] = f"{source}: pools[{index}] ({pool['name']})"
    return origins


def origin_of(urn: str | None, origins: dict[str, str]) -> str | None:
    """The team file (and pool) a resource's URN comes from, or None for platform resources."""
    if not urn:
        return None
    name = urn.rsplit("::", 1)[-1]
    matches = [key for key in origins if name == key or name.startswith(f"{key}-")]
    return origins[max(matches, key=len)] if matches else None

"""What an offline replay needs of the recorded target, and the target it replays against."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml

from imagecert.cassettes.files import API_ORIGIN, CONTROL_ORIGIN, TARGET_FILE, dump_yaml, write_atomically
from imagecert.cassettes.redaction import placeholder_auth
from imagecert.contracts import DIALECTS
from imagecert.target import SCOPE_KEYS, SCHEME_KEYS, Target, parse_target

def write_target_description(directory: Path, target: Target) -> None:
    """What an offline replay needs to know of the recorded target: no URL, no secret."""
    description = {"dialect": target.dialect, "mode": target.mode, "auth_scheme": target.scheme}
    if target.mode == "static":
        description.update(scope=dict(target.scope), fixtures=dict(target.fixtures))
    write_atomically(directory / target.dialect / TARGET_FILE, dump_yaml(description))


def replay_targets(directory: Path, dialects: Iterable[str] = DIALECTS) -> dict[str, Target]:
    """A target per dialect that has cassettes under `directory`, pointing at the fixed
    origins the recordings were rewritten to (nothing listens there: vcrpy answers)."""
    targets = {}
    for dialect in dialects:
        path = directory / dialect / TARGET_FILE
        if not path.is_file():
            continue
        description = yaml.safe_load(path.read_text("utf-8"))
        document: dict[str, Any] = {"dialect": dialect, "base_url": API_ORIGIN}
        if description["mode"] == "control":
            document.update(scope={key: "replayed" for key in SCOPE_KEYS[dialect]}, auth={"scheme": "none"},
                            provisioning={"mode": "control", "control_url": CONTROL_ORIGIN, "tenant_id": "replayed"})
        else:
            auth = placeholder_auth("target", {"scheme": description["auth_scheme"],
                                               **{k: "" for k in SCHEME_KEYS[description["auth_scheme"]]}})
            document.update(scope=description.get("scope") or {}, auth=auth,
                            fixtures=description.get("fixtures") or {}, provisioning={"mode": "static"})
        targets[dialect] = parse_target(document, f"cassettes of {dialect} ({directory})")
    return targets

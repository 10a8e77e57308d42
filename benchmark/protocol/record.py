"""The protocol record ``OUT/protocol.json``: what was run, and the check that a results
folder holds this protocol's results and no other's."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.atomic import write_json  # noqa: F401 - benchmark.protocol.record.write_json, as before
from benchmark.effort import EffortModel
from benchmark.protocol.schema import PROTOCOL_FILE, Protocol

# protocol.json entries that do not change results: a re-run may change them (and an
# experiment's repeats: more continue the finished sessions).
_DESCRIPTIVE = ("title", "source", "methods", "started", "resumed", "save_masks")
# Entries added after results folders existed, with the value every older folder had.
_ADDED = {"nsd_mm": None, "conventions": "simedit", "locality_mm": 10.0, "effort": EffortModel().to_json()}
_ADDED_PER_EXPERIMENT = {"time_limit_s": None, "on_timeout": "keep"}


def protocol_record(protocol: Protocol, device: str = "cpu") -> dict[str, Any]:
    """The content of ``OUT/protocol.json``: the experiments as the report reads them
    (id, label, folder, method, user, mode, rounds, target_dice, time_limit_s, on_timeout,
    in order), the analyses' names, and every setting that decides the results."""
    return {
        "name": protocol.name,
        "title": protocol.title,
        "source": str(protocol.source),
        "data": str(protocol.data),
        "layout": protocol.layout,
        "case_selection": protocol.case_selection,
        "cases": list(protocol.cases),
        "seed": protocol.seed,
        "hd95": protocol.hd95,
        "nsd_mm": protocol.nsd_mm,
        "conventions": protocol.conventions,
        "locality_mm": protocol.locality_mm,
        "effort": protocol.effort.to_json(),
        "save_masks": protocol.save_masks,
        "initial": str(protocol.initial) if protocol.initial else None,
        "device": device,
        "methods": dict(protocol.methods),
        "experiments": [
            {"id": e.id, "label": e.label, "folder": e.folder, "method": e.method, "user": e.user,
             "mode": e.mode, "rounds": e.rounds, "target_dice": e.target_dice, "time_limit_s": e.time_limit_s,
             "on_timeout": e.on_timeout, "repeats": e.repeats}
            for e in protocol.experiments
        ],
        "analyses": [a.name for a in protocol.analyses],
        "analysis_settings": {a.name: a.settings() for a in protocol.analyses},
    }


#: An experiment's entries that do not make it another experiment: more rounds or repeats
#: continue its finished sessions (its run folder judges them; fewer rounds are refused).
_RUN_DECIDES = ("label", "repeats", "rounds")


def _results_part(record: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of a protocol record that decide results (labels and titles do not),
    the experiments by id."""
    part = {**_ADDED, **{k: v for k, v in record.items() if k not in _DESCRIPTIVE}}
    part["experiments"] = {e["id"]: {**_ADDED_PER_EXPERIMENT, **{k: v for k, v in e.items() if k not in _RUN_DECIDES}}
                           for e in record.get("experiments", [])}
    return part


def protocol_changes(protocol: Protocol, out: Path, device: str = "cpu") -> list[str]:
    """The settings that decide results in which ``out``'s protocol.json differs from
    ``protocol`` (sorted keys; ``experiments[<id>]`` for a changed experiment); empty when
    they agree or ``out`` holds no protocol yet. Experiments added (or dropped) are no
    change: each has its own folder, so a protocol grows without redoing finished work."""
    path = Path(out) / PROTOCOL_FILE
    if not path.exists():
        return []
    recorded, current = json.loads(path.read_text()), protocol_record(protocol, device)
    before, after = _results_part(recorded), _results_part(current)
    old, new = before.pop("experiments"), after.pop("experiments")
    changed = [k for k in before.keys() | after.keys() if before.get(k) != after.get(k)]
    changed += [f"experiments[{i}]" for i in old.keys() & new.keys() if old[i] != new[i]]
    budgets = {e["id"]: e.get("rounds") for e in recorded.get("experiments", [])}
    changed += [f"experiments[{e['id']}].rounds" for e in current["experiments"]  # fewer rounds: another run
                if e["id"] in budgets and budgets[e["id"]] is not None and e["rounds"] < budgets[e["id"]]]
    return sorted(set(changed))


def write_protocol_record(protocol: Protocol, out: Path, device: str = "cpu") -> Path:
    """Write ``OUT/protocol.json``, refusing a folder that holds a different protocol's results.

    A re-run of the same protocol (labels, title and aliases may change) keeps the first
    start time and appends the time to ``resumed``.

    Raises:
        ValueError: the folder's protocol.json differs in something that decides results.
    """
    path = Path(out) / PROTOCOL_FILE
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    record = protocol_record(protocol, device)
    differ = protocol_changes(protocol, out, device)
    if differ:
        raise ValueError(
            f"{path}: this folder holds the results of a different protocol (differs in: {', '.join(differ)}); "
            "write to another --out folder or delete this one"
        )
    if path.exists():
        old = json.loads(path.read_text())
        record.update(started=old.get("started", now), resumed=[*old.get("resumed", []), now])
    else:
        record["started"] = now
    write_json(path, record)
    return path




"""Reads one allocmark run directory (meta.json + results.jsonl, schema in results/README.md).
Layer: plot/ shared loader; standard library only. The only coupling between plot/ and C++:
field names, types and which are required come from results/result_fields.json, the list the
C++ worker and loader are compiled from.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

# plot/ and results/ sit side by side in the source tree and in an installed prefix.
FIELDS_FILE = Path(__file__).resolve().parent.parent / "results" / "result_fields.json"
_SCHEMA = json.loads(FIELDS_FILE.read_text(encoding="utf-8"))
SCHEMA_VERSION = _SCHEMA["schema_version"]
FIELDS = {f["name"]: f for f in _SCHEMA["fields"]}
_REQUIRED = tuple(name for name, f in FIELDS.items() if f["required"])
# Older runs this loader still reads (their fields are a subset of today's).
_READABLE_VERSIONS = (1, SCHEMA_VERSION)
_TYPES = {
    "string": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
}


class ResultsError(Exception):
    """Bad input: the message is one line naming the file (and line) and what was expected."""


@dataclass
class Run:
    path: Path
    meta: dict
    records: list
    warnings: list = field(default_factory=list)

    @property
    def name(self):
        return self.path.resolve().name

    def _plan_order(self, key, plan_key):
        plan = self.meta.get("plan") if isinstance(self.meta.get("plan"), dict) else {}
        seen = []
        for x in plan.get(plan_key, []) or []:
            # Entries are names, or objects naming one (the harness writes workload objects).
            name = x.get(key, x.get("name")) if isinstance(x, dict) else x
            if isinstance(name, (str, int)) and str(name) not in seen:
                seen.append(str(name))
        for r in self.records:
            if r[key] not in seen:
                seen.append(r[key])
        present = {r[key] for r in self.records}
        return [x for x in seen if x in present]

    def allocators(self):
        """Allocator names in plan order, then in order of first appearance."""
        return self._plan_order("allocator", "allocators")

    def workloads(self):
        """Workload names in plan order, then in order of first appearance."""
        return self._plan_order("workload", "workloads")

    def thread_counts(self):
        return sorted({r["threads"] for r in self.records})


def _as_int(value, where, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ResultsError(f"{where}: field '{name}' must be an integer, got {value!r}")
    return int(value)


def load_run(path):
    """Loads a run directory. Raises ResultsError (one line) on unreadable or malformed input.

    A truncated last line (the run was killed while writing it) is skipped with a warning,
    because results.jsonl is appended as cells finish; a bad line elsewhere is an error.
    """
    path = Path(path)
    if not path.is_dir():
        raise ResultsError(f"{path}: not a directory (expected an allocmark run directory)")
    results = path / "results.jsonl"
    if not results.is_file():
        raise ResultsError(f"{results}: missing (expected an allocmark run directory)")
    warnings = []
    meta = {}
    meta_path = path / "meta.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ResultsError(f"{meta_path}: not valid JSON ({e})") from None
        if not isinstance(meta, dict):
            raise ResultsError(f"{meta_path}: expected a JSON object")
        version = meta.get("schema_version")
        if version is not None and version not in _READABLE_VERSIONS:
            warnings.append(f"meta.json schema_version is {version!r}; this tool reads "
                            f"{SCHEMA_VERSION}, unknown fields are ignored")
    else:
        warnings.append("meta.json is missing: machine and allocator versions are unknown")

    try:
        lines = results.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise ResultsError(f"{results}: not UTF-8 text ({e})") from None
    last = max((i for i, s in enumerate(lines) if s.strip()), default=-1)
    records = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        where = f"{results}:{i + 1}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            if i == last:
                warnings.append(f"{where}: truncated last line skipped ({e.msg})")
                continue
            raise ResultsError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(rec, dict):
            raise ResultsError(f"{where}: expected a JSON object per line")
        for name in _REQUIRED:
            if not isinstance(rec.get(name), str) or not rec[name]:
                raise ResultsError(f"{where}: field '{name}' must be a non-empty string")
        rec["threads"] = _as_int(rec.get("threads", 1), where, "threads")
        rec["rep"] = _as_int(rec.get("rep", len(records)), where, "rep")
        for name, value in rec.items():
            known = FIELDS.get(name)
            if known and value is not None and not _TYPES[known["type"]](value):
                raise ResultsError(f"{where}: field '{name}' must be {known['type']}, "
                                   f"got {type(value).__name__}")
        records.append(rec)
    if not records:
        warnings.append("results.jsonl has no result lines")
    return Run(path=path, meta=meta, records=records, warnings=warnings)

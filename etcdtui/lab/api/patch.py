"""PATCH bodies: JSON merge patch, strategic merge patch (as a merge patch) and JSON patch (RFC 6902).

The lab only patches maps such as `spec.unschedulable` and labels, where a strategic merge patch means the
same as a merge patch; its `$patch`/`$setElementOrder` directives are dropped.
"""

from __future__ import annotations

import copy
from typing import Any

from etcdtui.lab.api.errors import ApiError, Obj

MERGE_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")
JSON_PATCH = "application/json-patch+json"


def apply_patch(obj: Obj, content_type: str, body: Any) -> Obj:
    if content_type in MERGE_TYPES:
        if not isinstance(body, dict):
            raise ApiError(400, "the body of the request was in an unknown format - accepted media types include: "
                           "application/json-patch+json, application/merge-patch+json, "
                           "application/strategic-merge-patch+json")
        merged: Obj = merge(obj, body)
        return merged
    if content_type == JSON_PATCH:
        if not isinstance(body, list):
            raise ApiError(400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        return json_patch(obj, body)
    raise ApiError(
        415,
        f'the body of the request was in an unknown format - accepted media types include: '
        f'{JSON_PATCH}, {", ".join(MERGE_TYPES)}, application/apply-patch+yaml',
        "UnsupportedMediaType",
    )


def merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ApiError(422, f'invalid JSON pointer "{path}"', "Invalid")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(obj: Obj, ops: list[Any]) -> Obj:
    doc = copy.deepcopy(obj)
    for op in ops:
        if not isinstance(op, dict) or "path" not in op:
            raise ApiError(422, "json patch operation without a path", "Invalid")
        *parents, last = _pointer(op["path"])
        cur: Any = doc
        for part in parents:
            cur = cur[int(part)] if isinstance(cur, list) else cur.setdefault(part, {})
        kind = op.get("op")
        try:
            if kind in ("add", "replace"):
                if isinstance(cur, list):
                    idx = len(cur) if last == "-" else int(last)
                    if kind == "add":
                        cur.insert(idx, op.get("value"))
                    else:
                        cur[idx] = op.get("value")
                else:
                    if kind == "replace" and last not in cur:
                        raise KeyError(last)
                    cur[last] = op.get("value")
            elif kind == "remove":
                del cur[int(last) if isinstance(cur, list) else last]
            elif kind == "test":
                actual = cur[int(last)] if isinstance(cur, list) else cur.get(last)
                if actual != op.get("value"):
                    raise ApiError(422, f"testing value {op['path']} failed", "Invalid")
            else:
                raise ApiError(422, f"Unexpected kind: {kind}", "Invalid")
        except (KeyError, IndexError, ValueError):
            raise ApiError(
                422, f"the server rejected our request due to an error in our request: {kind} {op['path']}", "Invalid"
            ) from None
    return doc

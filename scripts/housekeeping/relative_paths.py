"""Rewrite the paths a checkpoint's header records (its training command, data, output, cache)
relative to the data and run folders, without changing a weight.

    python scripts/housekeeping/relative_paths.py weights/*.safetensors \\
        --map CHECKOUT/../shared/data=../shared/data --map CHECKOUT/= --map WORK/=

where CHECKOUT is the absolute path of the checkout that trained, WORK the folder holding it
and the run folders (and any relative spelling of them a header holds, e.g. ``../../..`` + WORK).

Each ``--map OLD=NEW`` replaces a leading OLD in every string of the header's JSON (first match
applies first, in the order given); the training command's first word (the program as that machine
named it) becomes ``bwcolor``. The file is rewritten in place, atomically, only if something
changed; the tensors are read and written back as they are, and checked equal after.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save

from bwcolor.files.atomic import write_atomic


def relative(value, maps: list[tuple[str, str]]):
    """``value`` (JSON: dicts, lists, strings) with each string's leading OLD replaced by NEW."""
    if isinstance(value, dict):
        return {relative(k, maps): relative(v, maps) for k, v in value.items()}
    if isinstance(value, list):
        return [relative(v, maps) for v in value]
    if isinstance(value, str):
        for old, new in maps:
            if value.startswith(old):
                value = new + value[len(old) :]
            value = value.replace(" " + old, " " + new)  # paths inside a command line
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--map", action="append", default=[], help="OLD=NEW, a leading path to replace")
    args = ap.parse_args()
    maps = [tuple(m.split("=", 1)) for m in args.map]
    for path in args.checkpoints:
        with safe_open(str(path), framework="pt") as f:
            header = dict(f.metadata())
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        new = {}
        for key, text in header.items():
            try:
                value = json.loads(text)
            except ValueError:
                new[key] = text
                continue
            value = relative(value, maps)
            if isinstance(value, dict) and isinstance(value.get("command"), str):
                program, _, rest = value["command"].partition(" ")
                value["command"] = (
                    "bwcolor" + (" " + rest if rest else "") if "bwcolor" in program else value["command"]
                )
            new[key] = json.dumps(value)
        if new == header:
            print(f"{path}: nothing to change")
            continue
        write_atomic(path, save(tensors, metadata=new))
        with safe_open(str(path), framework="pt") as f:
            assert all(torch.equal(f.get_tensor(k), t) for k, t in tensors.items()), path
        print(f"{path}: header paths made relative, {len(tensors)} tensors unchanged")


if __name__ == "__main__":
    main()

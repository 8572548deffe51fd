#!/usr/bin/env python3
"""Per-instruction Ir of one function from a callgrind file recorded with
--dump-instr=yes, interleaved with its objdump disassembly.

usage: hot.py CALLGRIND_OUT BINARY FUNCTION_SUBSTRING [MIN_COST [EVENT]]
EVENT is the name of one of the file's events (default: the first, Ir);
with --branch-sim=yes, Bcm counts mispredicted conditional branches.
"""
import re, subprocess, sys
from collections import defaultdict

out, binary, func = sys.argv[1:4]
min_ir = int(sys.argv[4]) if len(sys.argv) > 4 else 1
event = sys.argv[5] if len(sys.argv) > 5 else None
column = 0
costs = defaultdict(int)
names = {}
cur_fn = None
last = [0, 0]
in_call = False
for line in open(out):
    line = line.rstrip("\n")
    if line.startswith("events:"):
        names_ev = line.split()[1:]
        column = names_ev.index(event) if event else 0
        continue
    m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
    if m:
        kind, fid, name = m.groups()
        if name:
            names[fid] = name
        if kind == "fn":
            cur_fn = names.get(fid, fid)
        continue
    if line.startswith("calls="):
        in_call = True
        continue
    if not line or not (line[0].isdigit() or line[0] in "+-*" or line.startswith("0x")):
        continue
    parts = line.split()
    pos = []
    for i, p in enumerate(parts[:2]):
        if p.startswith("0x"):
            v = int(p, 16)
        elif p.startswith("+"):
            v = last[i] + int(p[1:])
        elif p.startswith("-"):
            v = last[i] - int(p[1:])
        elif p == "*":
            v = last[i]
        else:
            v = int(p)
        pos.append(v)
    last[:len(pos)] = pos
    if in_call:  # inclusive cost of a call: skip
        in_call = False
        continue
    if cur_fn and func in cur_fn and len(parts) > 2 + column:
        costs[pos[0]] += int(parts[2 + column])
total = sum(costs.values())
print(f"total {event or 'Ir'} in functions matching {func!r}: {total:,}")
dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", binary],
                     capture_output=True, text=True).stdout
for l in dis.splitlines():
    m = re.match(r"^\s*([0-9a-f]+):\s*(.*)$", l)
    if m:
        a = int(m.group(1), 16)
        if a in costs and costs[a] >= min_ir:
            print(f"{costs[a]:>12,}  {a:x}: {m.group(2)}")

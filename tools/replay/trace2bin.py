#!/usr/bin/python3
"""Turns a trace_shim.c trace into replay.c's input: records of
(kind: 0 malloc, 1 free, 2 realloc; slot; size; new slot), little-endian
<IIQI, after a header <II (records, slots). Frees of pointers the trace
never saw allocated (made before the shim was loaded) are dropped."""
import struct
import sys

live, nslot, out = {}, 0, []
for line in open(sys.argv[1]):
    p = line.split()
    if p[0] == 'm':
        live[p[2]] = nslot
        out.append((0, nslot, int(p[1]), 0))
        nslot += 1
    elif p[0] == 'f':
        if p[1] in live:
            out.append((1, live.pop(p[1]), 0, 0))
    elif p[0] == 'r':
        old = live.pop(p[1], 0xffffffff)
        if int(p[2]) == 0:
            if old != 0xffffffff:
                out.append((1, old, 0, 0))
            continue
        live[p[3]] = nslot
        out.append((2, old, int(p[2]), nslot))
        nslot += 1
with open(sys.argv[2], 'wb') as f:
    f.write(struct.pack('<II', len(out), nslot))
    for o in out:
        f.write(struct.pack('<IIQI', *o))

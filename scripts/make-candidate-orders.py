#!/usr/bin/env python3
# Writes test/fixtures/msac/candidate-orders.json: the reference candidate-grid order (facts §2.2)
# for many (min, max) pairs, straight from CPython's set, so lib/msac/candidates.ts can be checked
# against the interpreter rather than against itself. Run with CPython 3.11 (the reference order).
import json
import os
import sys


def order(mn, mx):
    t = set((i, j) for n in range(mn, mx + 1) for i in range(1, n + 1) for j in range(1, n + 1)
            if i * j <= mx and i * j >= mn)
    return sorted(t, key=lambda x: x[0] * x[1])


pairs = [(a, b) for b in range(1, 17) for a in range(1, b + 1)]
pairs += [(a, 24) for a in range(1, 25)]
pairs += [(6, 12), (2, 5), (11, 23), (2, 10), (12, 23), (3, 40), (1, 40), (20, 64), (1, 64), (1, 128)]
seen = set()
out = {}
for p in pairs:
    if p in seen:
        continue
    seen.add(p)
    out['%d,%d' % p] = ' '.join('%dx%d' % r for r in order(*p))

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
path = os.path.join(root, 'test', 'fixtures', 'msac', 'candidate-orders.json')
with open(path, 'w') as f:
    json.dump({'python': sys.version.split()[0], 'orders': out}, f, indent=0)
    f.write('\n')
print('wrote %d orders to %s' % (len(out), path))

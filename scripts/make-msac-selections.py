#!/usr/bin/env python3
# Writes test/fixtures/msac/selections.json: the (detail, adaptive) grids the reference code picks
# (facts §2.3-2.5, demo/VLMEvalKit exclusion rule) for many image sizes under every preset, so the
# TypeScript planner is checked against the Python functions themselves. Run with CPython 3.11.
import json
import os
import random
import sys

PRESETS = {
    'default': (12, 24, 3, 5), 'document': (1, 24, 1, 8), 'ocr': (8, 24, 3, 9), 'chart': (4, 12, 1, 3),
    'infographic': (5, 24, 3, 8), 'photo': (3, 9, 1, 4), 'demo': (4, 12, 3, 7), 'fast': (1, 4, 1, 3),
}


def ratios(mn, mx):
    t = set((i, j) for n in range(mn, mx + 1) for i in range(1, n + 1) for j in range(1, n + 1)
            if i * j <= mx and i * j >= mn)
    return sorted(t, key=lambda x: x[0] * x[1])


def find_closest_aspect_ratio(aspect_ratio, target_ratios, width, height, image_size):
    best_ratio_diff = float('inf')
    best_ratio = (1, 1)
    area = width * height
    for ratio in target_ratios:
        target_aspect_ratio = ratio[0] / ratio[1]
        ratio_diff = abs(aspect_ratio - target_aspect_ratio)
        if ratio_diff < best_ratio_diff:
            best_ratio_diff = ratio_diff
            best_ratio = ratio
        elif ratio_diff == best_ratio_diff:
            if area > 0.5 * image_size * image_size * ratio[0] * ratio[1]:
                best_ratio = ratio
    return best_ratio


def select(w, h, p):
    d = find_closest_aspect_ratio(w / h, ratios(p[0], p[1]), w, h, 448)
    kept = [r for r in ratios(p[2], p[3]) if d[0] % r[0] or d[1] % r[1]]
    a = find_closest_aspect_ratio(w / h, kept, w, h, 448)
    return d, a


rng = random.Random(20240802)
sizes = [(1000, 1600), (500, 800), (800, 600), (1920, 1080), (448, 448), (100, 100), (1024, 1024), (300, 200),
         (4000, 100), (1, 1), (1, 5000), (5000, 1), (700, 700), (600, 400), (896, 448), (634, 634), (633, 633),
         (951, 950), (950, 950), (1344, 896), (2480, 3508), (3508, 2480), (1080, 1920), (640, 480)]
for _ in range(400):
    sizes.append((int(round(10 ** rng.uniform(0, 3.8))), int(round(10 ** rng.uniform(0, 3.8)))))
for _ in range(150):  # exact small-integer aspects, where ties happen
    a, b, k = rng.randint(1, 8), rng.randint(1, 8), rng.randint(20, 900)
    sizes.append((a * k, b * k))

out = []
for w, h in sizes:
    row = [w, h]
    for name in PRESETS:
        d, a = select(w, h, PRESETS[name])
        row.append('%dx%d/%dx%d' % (d + a))
    out.append(row)

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
path = os.path.join(root, 'test', 'fixtures', 'msac', 'selections.json')
with open(path, 'w') as f:
    f.write('{"python": "%s", "presets": %s, "rows": [\n' % (sys.version.split()[0], json.dumps(list(PRESETS))))
    f.write(',\n'.join(json.dumps(r) for r in out))
    f.write('\n]}\n')
print('wrote %d sizes to %s' % (len(out), path))

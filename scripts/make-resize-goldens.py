#!/usr/bin/python3
# Writes test/fixtures/resize/goldens.bin and manifest.json: small RGB images resized with Pillow's
# default `img.resize((w, h))` (BICUBIC for RGB, facts §2.6), the reference's only resampling call.
# Our C++ port must reproduce every output byte for byte. Deterministic: fixed seeds, no clock.
#
# goldens.bin (little-endian):
#   "MMRZ" u32 version=1 u32 case_count
#   case_count × { u32 in_w, in_h, out_w, out_h, u32 in_offset, u32 out_offset (0xFFFFFFFF: only the
#                  hash is kept), 32 bytes SHA-256 of the expected output }
#   then the raw RGB8 inputs and stored outputs, at the offsets given (from the start of the file).
# Outputs over 16 KiB are kept only as hashes so the fixture stays small.
#
# Run with Debian's python3 (Pillow 9.4): /usr/bin/python3 scripts/make-resize-goldens.py
# Stress mode (not committed): --stress N --out DIR writes N extra random cases, up to 700 px, to DIR.
import argparse
import hashlib
import json
import os
import random
import struct

import PIL
from PIL import Image

STORE_LIMIT = 16 * 1024


def gradient(w, h):
    px = bytearray()
    for y in range(h):
        for x in range(w):
            px += bytes(((x * 255) // max(1, w - 1), (y * 255) // max(1, h - 1), ((x + y) * 7) & 255))
    return px


def noise(w, h, seed):
    r = random.Random(seed)
    return bytearray(r.getrandbits(8) for _ in range(w * h * 3))


def edges(w, h):
    # 5-px checkerboard, a hard diagonal and saturated colours: ringing and clamping at 0/255.
    px = bytearray()
    for y in range(h):
        for x in range(w):
            if x * h > y * w * 1.3:
                c = (255, 0, 0) if ((x // 5) + (y // 5)) % 2 else (0, 0, 255)
            else:
                c = (255, 255, 255) if ((x // 5) + (y // 5)) % 2 else (0, 0, 0)
            px += bytes(c)
    return px


def lines(w, h):
    # 1-pixel lines and isolated dots on black.
    px = bytearray(w * h * 3)
    def put(x, y, c):
        i = (y * w + x) * 3
        px[i:i + 3] = bytes(c)
    for y in range(h):
        put(w // 3, y, (255, 255, 255))
        put(w - 1, y, (0, 255, 0))
    for x in range(w):
        put(x, h // 2, (255, 0, 255))
        put(x, 0, (200, 200, 0))
    for k in range(0, min(w, h), 4):
        put(k, k, (0, 128, 255))
    return px


def mixed(w, h, seed):
    r = random.Random(seed)
    px = bytearray()
    for y in range(h):
        for x in range(w):
            if (x // 9 + y // 7) % 3 == 0:
                px += bytes(r.getrandbits(8) for _ in range(3))
            else:
                px += bytes(((x * 3) & 255, 255 - ((y * 5) & 255), 128 if x > y else 32))
    return px


INPUTS = {
    'grad_64x48': (64, 48, gradient(64, 48)),
    'noise_37x29': (37, 29, noise(37, 29, 1)),
    'edges_50x40': (50, 40, edges(50, 40)),
    'lines_41x33': (41, 33, lines(41, 33)),
    'dot_1x1': (1, 1, bytearray((200, 30, 90))),
    'col_1x7': (1, 7, noise(1, 7, 2)),
    'row_7x1': (7, 1, noise(7, 1, 3)),
    'noise_128x96': (128, 96, noise(128, 96, 4)),
    'mixed_123x77': (123, 77, mixed(123, 77, 5)),
    'wide_200x5': (200, 5, mixed(200, 5, 6)),
    'tall_3x150': (3, 150, noise(3, 150, 7)),
}

TARGETS = {
    'grad_64x48': [(128, 96), (100, 75), (32, 24), (13, 11), (64, 100), (30, 48), (448, 448), (448, 7)],
    'noise_37x29': [(448, 448), (111, 87), (19, 15), (5, 3), (37, 58), (74, 29), (1, 1), (36, 28), (37, 29)],
    'edges_50x40': [(896, 448), (51, 41), (25, 20), (7, 6), (50, 40), (448, 3), (60, 40)],
    'lines_41x33': [(82, 66), (17, 13), (448, 14), (41, 34), (40, 33), (3, 100)],
    'dot_1x1': [(448, 448), (3, 5), (1, 1), (1, 9), (9, 1)],
    'col_1x7': [(448, 448), (5, 7), (1, 3), (4, 20), (1, 448)],
    'row_7x1': [(7, 448), (2, 1), (21, 3), (448, 1)],
    'noise_128x96': [(7, 5), (1, 1), (448, 336), (127, 97), (10, 96), (128, 7), (53, 40), (64, 64)],
    'mixed_123x77': [(448, 896), (61, 38), (246, 77), (123, 200), (17, 9), (112, 112)],
    'wide_200x5': [(2688, 448), (448, 448), (50, 2), (199, 5), (200, 6)],
    'tall_3x150': [(448, 448), (1, 30), (3, 149), (9, 150), (448, 4)],
}


def add_random(count, max_in, max_out, seed):
    # Random cases for breadth, on fresh noise.
    rr = random.Random(seed)
    for k in range(count):
        w, h = rr.randint(1, max_in), rr.randint(1, max_in)
        name = 'rand%02d_%dx%d' % (k, w, h)
        INPUTS[name] = (w, h, noise(w, h, seed + k))
        TARGETS[name] = [(rr.randint(1, max_out), rr.randint(1, max_out))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--stress', type=int, default=0)
    ap.add_argument('--out', default=None)
    args = ap.parse_args()
    if args.stress:
        INPUTS.clear()
        TARGETS.clear()
        add_random(args.stress, 700, 700, 777)
    else:
        add_random(60, 40, 60, 20240802)
    img_default = Image.new('RGB', (2, 2)).resize((3, 3))  # smoke: default filter is accepted
    assert img_default.size == (3, 3)
    root = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'resize')
    os.makedirs(root, exist_ok=True)

    cases = []
    blobs = bytearray()
    header_size = 12 + sum(len(t) for t in TARGETS.values()) * (24 + 32)
    in_offsets = {}
    for name, (w, h, px) in INPUTS.items():
        assert len(px) == w * h * 3
        in_offsets[name] = header_size + len(blobs)
        blobs += px
    for name, targets in TARGETS.items():
        w, h, px = INPUTS[name]
        img = Image.frombytes('RGB', (w, h), bytes(px))
        for (ow, oh) in targets:
            out = img.resize((ow, oh)).tobytes()  # exactly the reference call: default filter
            assert len(out) == ow * oh * 3
            digest = hashlib.sha256(out).digest()
            if len(out) <= STORE_LIMIT:
                out_offset = header_size + len(blobs)
                blobs += out
            else:
                out_offset = 0xFFFFFFFF
            cases.append({'input': name, 'in': [w, h], 'out': [ow, oh], 'inOffset': in_offsets[name],
                          'outOffset': None if out_offset == 0xFFFFFFFF else out_offset,
                          'sha256': digest.hex()})

    header = bytearray(b'MMRZ' + struct.pack('<II', 1, len(cases)))
    for c in cases:
        header += struct.pack('<6I', c['in'][0], c['in'][1], c['out'][0], c['out'][1], c['inOffset'],
                              0xFFFFFFFF if c['outOffset'] is None else c['outOffset'])
        header += bytes.fromhex(c['sha256'])
    assert len(header) == header_size
    with open(os.path.join(root, 'goldens.bin'), 'wb') as f:
        f.write(header + blobs)
    with open(os.path.join(root, 'manifest.json'), 'w') as f:
        f.write('{"pillow": "%s", "filter": "default (BICUBIC)", "file": "goldens.bin", "cases": [\n' % PIL.__version__)
        f.write(',\n'.join(json.dumps(c) for c in cases))
        f.write('\n]}\n')
    print('%d cases, %d bytes (pillow %s)' % (len(cases), len(header) + len(blobs), PIL.__version__))


main()

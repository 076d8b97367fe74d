#!/usr/bin/env python3
"""Reference tile batch, computed the way the Mini-Monkey code does it (facts §2.4, §2.7):
Pillow `img.resize((W, H))` (default BICUBIC) per layer, exact crops, then ToTensor + Normalize
in float32 with numpy. Run with Debian's python3 (python3-pil, python3-numpy).

usage: pillow_tiles.py <request.json> <out.f32>
request: {"image": "x.png", "tiles": [[resizeW, resizeH, x, y], ...], "size": 448,
          "mean": [..3], "std": [..3]}
"""
import json
import sys

import numpy as np
from PIL import Image


def main() -> None:
    req = json.load(open(sys.argv[1]))
    img = Image.open(req["image"]).convert("RGB")
    size = req["size"]
    mean = np.array(req["mean"], dtype=np.float32).reshape(3, 1, 1)
    std = np.array(req["std"], dtype=np.float32).reshape(3, 1, 1)
    layers = {}
    out = []
    for rw, rh, x, y in req["tiles"]:
        if (rw, rh) not in layers:
            layers[(rw, rh)] = img.resize((rw, rh))
        tile = layers[(rw, rh)].crop((x, y, x + size, y + size))
        chw = np.asarray(tile, dtype=np.uint8).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
        out.append((chw - mean) / std)
    np.stack(out).astype(np.float32).tofile(sys.argv[2])


if __name__ == "__main__":
    main()

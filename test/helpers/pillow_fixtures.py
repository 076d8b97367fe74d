# Writes small images of every Pillow mode the loader must convert, plus what the reference makes of
# them: Image.open(f).convert('RGB').tobytes() in <name>.rgb. Usage: pillow_fixtures.py OUT_DIR
# Extra files given after OUT_DIR (made elsewhere, e.g. 16-bit PNGs by sharp) are converted too.
import json
import os
import random
import sys

import numpy as np
from PIL import Image

out = sys.argv[1]
random.seed(7)
W, H = 37, 23
# Random colours, alpha fully transparent, opaque, or anything in between.
rgba = Image.new('RGBA', (W, H))
rgba.putdata([
    (random.randrange(256), random.randrange(256), random.randrange(256), random.choice([0, 255, random.randrange(256)]))
    for _ in range(W * H)
])
rgb = rgba.convert('RGB')
pal = rgb.convert('P', palette=Image.ADAPTIVE, colors=200)

made = {
    'rgba.png': lambda f: rgba.save(f),
    'rgb.png': lambda f: rgb.save(f),
    'gray.png': lambda f: rgba.convert('L').save(f),
    'la.png': lambda f: rgba.convert('LA').save(f),
    'bilevel.png': lambda f: rgba.convert('1').save(f),
    'palette-trns.png': lambda f: pal.save(f, transparency=5),
    'rgb.tif': lambda f: rgb.save(f),
    'rgba.tif': lambda f: rgba.save(f),
    'gray.tif': lambda f: rgba.convert('L').save(f),
    'rgb.webp': lambda f: rgb.save(f, lossless=True),
    'rgba.webp': lambda f: rgba.save(f, lossless=True),
    'palette.gif': lambda f: pal.save(f),
    # Two frames: both decoders must take the first.
    'animated.gif': lambda f: pal.save(f, save_all=True, append_images=[pal.transpose(Image.FLIP_LEFT_RIGHT)]),
    'rgb.jpg': lambda f: rgb.save(f, quality=90),
    'gray.jpg': lambda f: rgba.convert('L').save(f, quality=90),
}
modes = {}
for name, save in made.items():
    save(os.path.join(out, name))
for path in [os.path.join(out, n) for n in made] + sys.argv[2:]:
    im = Image.open(path)
    modes[os.path.basename(path)] = im.mode
    with open(path + '.rgb', 'wb') as f:
        f.write(im.convert('RGB').tobytes())
    if im.mode in ('I', 'I;16', 'I;16B'):
        # The 16-bit samples themselves, for checking our high-byte rule.
        with open(path + '.u16', 'wb') as f:
            f.write(np.asarray(im).astype('<u2').tobytes())
with open(os.path.join(out, 'modes.json'), 'w') as f:
    json.dump(modes, f)

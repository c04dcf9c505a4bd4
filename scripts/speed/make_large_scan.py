"""Write a synthetic 16-bit grayscale scan (12000 x 9000 by default) for the memory figures in
docs/reliability.md:

    python scripts/speed/make_large_scan.py /tmp/bigscan/scan16.tif
    /usr/bin/time -v bwcolor colorize /tmp/bigscan/scan16.tif -o /tmp/bigscan/out
"""

import argparse
from pathlib import Path

import numpy as np
import tifffile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--width", type=int, default=12000)
    parser.add_argument("--height", type=int, default=9000)
    args = parser.parse_args()
    h, w = args.height, args.width
    rng = np.random.default_rng(0)
    out = np.empty((h, w), np.uint16)
    x = np.arange(w, dtype=np.float32)
    for r0 in range(0, h, 500):  # in bands: the generator itself stays small
        y = np.arange(r0, min(h, r0 + 500), dtype=np.float32)[:, None]
        g = 0.5 + 0.3 * np.sin(x / 700) * np.cos(y / 500) + 0.1 * np.sin((x + y) / 37)
        g += rng.normal(0, 0.02, g.shape).astype(np.float32)
        out[r0 : r0 + len(y)] = np.clip(g * 65535, 0, 65535).astype(np.uint16)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(args.output, out, compression="zlib", resolution=(600, 600), resolutionunit="INCH")
    print(f"{args.output}: {w}x{h}, 16-bit gray, {args.output.stat().st_size / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()

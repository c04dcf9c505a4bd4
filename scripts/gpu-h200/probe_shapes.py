"""Time of the first forward pass at each new input shape on CUDA, and of the second (session 2)."""

import time

import torch

from bwcolor import load_model

SHAPES = [(168, 256), (176, 256), (192, 256), (256, 168), (256, 256), (200, 256), (256, 192), (144, 256)]


def timed(model, x) -> float:
    torch.cuda.synchronize()
    t = time.perf_counter()
    model(x)
    torch.cuda.synchronize()
    return (time.perf_counter() - t) * 1000


for name in ("baseline", "fusion", "effnet_unet"):
    model = load_model(name, "cuda")
    row = []
    for h, w in SHAPES:
        x = torch.rand(1, 1, h, w, device="cuda").contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            first, again = timed(model, x), timed(model, x)
        row.append(f"{h}x{w}: first {first:.0f} ms, again {again:.1f}")
    print(name, "|", "; ".join(row), flush=True)

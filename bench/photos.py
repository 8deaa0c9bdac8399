"""Time checking evidence photos by decoding them in full against reading their headers only (the old check).

Usage: python bench/photos.py [--rounds 5]
Each file is what a worker sends: a 12-megapixel camera JPEG, a phone screenshot PNG, a small JPEG.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import figures  # noqa: E402
from intake.reading.photos import check_photo  # noqa: E402

LIMIT = 8 * 1024 * 1024


def samples() -> dict[str, bytes]:
    photo = Image.effect_noise((4000, 3000), 40).convert("RGB")
    screenshot = Image.new("RGB", (1080, 2400), "white")
    for y in range(0, 2400, 120):
        screenshot.paste(Image.effect_noise((700, 60), 90).convert("RGB"), (60 + (y // 120) % 2 * 260, y + 30))
    out = {}
    for name, image, fmt, options in (("camera JPEG 12 MP", photo, "JPEG", {"quality": 80}),
                                      ("screenshot PNG 1080x2400", screenshot, "PNG", {}),
                                      ("small JPEG 640x480", photo.resize((640, 480)), "JPEG", {"quality": 85})):
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        out[name] = buffer.getvalue()
    return out


def header_only(content: bytes) -> None:
    with Image.open(io.BytesIO(content)) as image:
        image.verify()


def median_seconds(action, content: bytes, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action(content)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    figures.add_option(parser)
    args = parser.parse_args()
    print(f"{'file':26} {'size':>9} {'full check':>11} {'header only':>12} {'ratio':>7}")
    found = []
    for name, content in samples().items():
        full = median_seconds(lambda c: check_photo("photo.jpg", c, LIMIT), content, args.rounds)
        header = median_seconds(header_only, content, args.rounds)
        print(f"{name:26} {len(content) / 1024:7.0f} KB {full * 1000:8.1f} ms {header * 1000:9.2f} ms "
              f"{full / header:6.0f}x")
        found += [figures.Figure("photos", f"{name}: full check", full * 1000, "ms"),
                  figures.Figure("photos", f"{name}: ratio to header only", full / header, "x")]
    figures.write(args.json, found)


if __name__ == "__main__":
    main()

"""What Content Credentials cost per storefront image: signing a full-size try-on JPEG with its
two ingredients (the photo's view and the garment's cut-out, as PNGs) with a throwaway EC P-256
chain, and the bytes the XMP packet and the signed manifest add. Reading them back is timed too
(the report's tally and the review page read them).

    .venv/bin/python bench/credentials.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import REPO

sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed signatures (median reported)")
    args = parser.parse_args()
    from tasks.credentials import Ingredient, Made, credential, read_credentials
    from tasks.images import decode_rgb, encode_jpeg, encode_png, fit_within
    from tasks.settings import Settings
    from tests.signing import make_signing_chain

    chain = make_signing_chain(Path(tempfile.mkdtemp(prefix="c2pa-bench-")))
    settings = Settings(c2pa_cert_chain=chain.cert_chain, c2pa_private_key=chain.private_key)
    photo = decode_rgb((REPO / "samples" / "library" / "049205_0.jpg").read_bytes())
    garment = decode_rgb((REPO / "samples" / "drop" / "TEE-00055" / "front.jpg").read_bytes())
    jpeg = encode_jpeg(photo, 95)
    made = Made(
        "TEE-00055 on 049205_0",
        "ladi-vton",
        "ladi-vton-vitonhd-1.0",
        "a" * 64,
        7,
        {"steps": 50},
        (
            Ingredient("model photo 049205_0", encode_png(fit_within(photo, 512)), "image/png", "b" * 64),
            Ingredient("garment TEE-00055", encode_png(garment), "image/png", "c" * 64),
        ),
        approved_by="qa@example.com",
    )
    signed = credential(jpeg, made, settings)  # warm-up
    signing, reading = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        signed = credential(jpeg, made, settings)
        signing.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        state = read_credentials(signed).state
        reading.append((time.perf_counter() - start) * 1000)
    print(f"image {photo.shape[1]}x{photo.shape[0]} JPEG {len(jpeg)} bytes; {args.repeat} passes, read back as {state}")
    print(f"sign: median {statistics.median(signing):.1f} ms; read: median {statistics.median(reading):.1f} ms")
    print(f"bytes added: {len(signed) - len(jpeg)} ({100 * (len(signed) - len(jpeg)) / len(jpeg):.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

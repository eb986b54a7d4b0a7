"""The duplicate check of a drop: a 10,000-garment drop against 100,000 earlier garments, with the
fingerprint index (``tasks/preprocess/fingerprints.py``) and with the exhaustive scan it replaced
(every new garment compared with every earlier one by ``same_garment``; timed on a sample of the
queries and scaled up). Both answer the same on every sampled query.

The fingerprints are random hashes grouped in families (a style and its near copies within a few
bits, in a few colours), as a catalogue's are: many shirts of one cut share most of a hash.

    .venv/bin/python bench/duplicates.py [--earlier 100000] [--drop 10000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from common import REPO

sys.path.insert(0, str(REPO))

from tasks.preprocess.fingerprints import FingerprintIndex, Owner  # noqa: E402
from tasks.preprocess.garment import same_garment  # noqa: E402


def fingerprints(count: int, rng: random.Random) -> list[str]:
    out = []
    while len(out) < count:
        style = rng.getrandbits(64) & ~1
        for _ in range(rng.randint(1, 20)):
            value = style
            for bit in rng.sample(range(64), rng.randint(0, 10)):
                value ^= 1 << bit
            colour = [rng.randint(0, 255) for _ in range(3)]
            out.append(f"{value:016x}-" + "".join(f"{c:02x}" for c in colour))
    return out[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--earlier", type=int, default=100_000)
    parser.add_argument("--drop", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=50, help="queries timed with the exhaustive scan")
    args = parser.parse_args()
    rng = random.Random(0)
    earlier, drop = fingerprints(args.earlier, rng), fingerprints(args.drop, rng)
    for i in range(0, len(drop), 10):  # one in ten is a re-shot of an earlier garment: a few bits, the same colour
        shot = rng.choice(earlier)
        value = int(shot[:16], 16) ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64))
        drop[i] = f"{value:016x}-{shot[17:]}"
    owners = [Owner(f"OLD-{i:06d}", "2026-11-01") for i in range(len(earlier))]

    start = time.perf_counter()
    index = FingerprintIndex()
    for fingerprint, owner in zip(earlier, owners):
        index.add(fingerprint, owner)
    built = time.perf_counter() - start
    start = time.perf_counter()
    found = [index.find(f) for f in drop]
    queried = time.perf_counter() - start

    start = time.perf_counter()
    sample = drop[: args.sample]
    exhaustive = [next((o for f, o in zip(earlier, owners) if same_garment(f, q)), None) for q in sample]
    per_query = (time.perf_counter() - start) / len(sample)
    assert exhaustive == found[: len(sample)], "the index and the exhaustive scan disagree"

    duplicates = sum(f is not None for f in found)
    print(f"{args.drop} new garments against {args.earlier} earlier ones ({duplicates} found to be duplicates)")
    print(f"  index: built in {built:.2f} s, queried in {queried:.2f} s ({1e6 * queried / len(drop):.0f} us per garment)")
    print(
        f"  exhaustive scan: {1e3 * per_query:.1f} ms per garment, {per_query * len(drop) / 60:.1f} min for the drop (from {len(sample)} queries)"
    )
    print(f"  ratio: the index is {per_query * len(drop) / (built + queried):.0f}x faster, same answers on the sample")


if __name__ == "__main__":
    main()

"""Random streams: every run's seed, and one generator per purpose and named thing.

Both the experiment (which seeds replication k) and the model (which gives each
server its own streams) draw from here, so the seeding rule is written once.
Streams are keyed by a server's *name*, not its position, so adding a server
leaves every other server's traffic exactly as it was.
"""

from __future__ import annotations

import math
import random
import zlib

import numpy as np


def replication_seed(seed: int, replication: int) -> int:
    """The seed of replication k: from the scenario seed and k only (common random numbers)."""
    return int(np.random.SeedSequence(seed, spawn_key=(replication,)).generate_state(1)[0])


def stream(seed: int, purpose: int, name: str = "") -> random.Random:
    """An independent generator for one purpose (and one named thing) of a run.

    Seeded from ``numpy.random.SeedSequence(seed, spawn_key=(purpose, crc32(name)))``;
    the draws themselves use the standard library's Mersenne Twister, which is
    several times faster than NumPy for the one-at-a-time draws a simulation makes.
    """
    state = np.random.SeedSequence(seed, spawn_key=(purpose, zlib.crc32(name.encode()))).generate_state(4)
    return random.Random(int.from_bytes(state.tobytes(), "little"))


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw by inversion (means here are small: a few recipients)."""
    threshold, k, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        k += 1
        product *= rng.random()
    return k

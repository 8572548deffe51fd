#!/usr/bin/env python3
"""Independent reference for sooth-core's random streams and sampler.

Implements, from their published definitions, SplitMix64 seeding, xoshiro256++
(https://prng.di.unimi.it/xoshiro256plusplus.c, including jump()), Lemire's
unbiased range reduction on 32-bit draws (the high half of a u64 draw), and
Fisher-Yates from the back, and prints the sequences that
core/tests/sampler.rs asserts. Run: python3 scripts/reference_sampler.py
"""
M = (1 << 64) - 1


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


class SplitMix64:
    def __init__(self, seed):
        self.x = seed & M

    def next(self):
        self.x = (self.x + 0x9E3779B97F4A7C15) & M
        z = self.x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        return z ^ (z >> 31)


class Xoshiro256pp:
    JUMP = [0x180EC6D33CFD0ABA, 0xD5A61266F0C9392C, 0xA9582618E03FC9AA, 0x39ABDC4529B1661C]

    def __init__(self, seed):
        sm = SplitMix64(seed)
        self.s = [sm.next() for _ in range(4)]

    def next_u64(self):
        s = self.s
        result = (rotl((s[0] + s[3]) & M, 23) + s[0]) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def next_u32(self):
        return self.next_u64() >> 32

    def jump(self):
        acc = [0, 0, 0, 0]
        for word in self.JUMP:
            for b in range(64):
                if word & (1 << b):
                    acc = [a ^ s for a, s in zip(acc, self.s)]
                self.next_u64()
        self.s = acc


def below(rng, n):
    m = rng.next_u32() * n
    if (m & 0xFFFFFFFF) < n:
        threshold = ((1 << 32) - n) % n
        while (m & 0xFFFFFFFF) < threshold:
            m = rng.next_u32() * n
    return m >> 32


def shuffle(rng, items):
    for i in range(len(items) - 1, 0, -1):
        j = below(rng, i + 1)
        items[i], items[j] = items[j], items[i]


def streams(seed):
    init = Xoshiro256pp(seed)
    sampler = Xoshiro256pp(seed)
    sampler.jump()
    return init, sampler


if __name__ == "__main__":
    init, sampler = streams(7)
    print("init stream, seed 7, first 4 next_u32:", [init.next_u32() for _ in range(4)])
    perm = list(range(10))
    epochs = []
    for _ in range(2):
        shuffle(sampler, perm)
        epochs.append(list(perm))
    print("Shuffle, n = 10, seed 7, epochs 1 and 2:", epochs)
    _, sampler = streams(7)
    draws = [[below(sampler, 10) for _ in range(4)] for _ in range(3)]
    print("WithReplacement, n = 10, batch 4, Keep, seed 7, epoch 1:", draws[:2] + [draws[2][:2]])
    _, sampler = streams(2024)
    perm = list(range(1347))
    shuffle(sampler, perm)
    print("Shuffle, n = 1347, seed 2024, first 12 of epoch 1:", perm[:12])

"""The byte generator of tests/fixtures/unixfs-cids.txt, fast enough for 45 MB in pure Python.

x = S; for each byte: x = (x * 1103515245 + 12345) mod 2^32; byte = x >> 24.
Runs K independent lanes packed 64 bits apart in one big integer: lane j holds x_{i*K+j}, and one step
of K is the affine map x -> A_K*x + C_K (mod 2^32), applied to all lanes by one big-int multiply.
"""

from __future__ import annotations

from array import array

A = 1103515245
C = 12345
M = 0xFFFFFFFF


def lcg_bytes_slow(n: int, seed: int) -> bytes:
    x = seed
    out = bytearray(n)
    for i in range(n):
        x = (x * A + C) & M
        out[i] = x >> 24
    return bytes(out)


def lcg_bytes(n: int, seed: int, lanes: int = 1 << 16) -> bytes:
    if n <= lanes:
        return lcg_bytes_slow(n, seed)
    first = []
    x = seed
    for _ in range(lanes):
        x = (x * A + C) & M
        first.append(x)
    # The affine map of `lanes` steps: x -> a_k*x + c_k.
    a_k, c_k = 1, 0
    for _ in range(lanes):
        a_k, c_k = (a_k * A) & M, (c_k * A + C) & M
    state = int.from_bytes(array("Q", first).tobytes(), "little")
    add = int.from_bytes(array("Q", [c_k] * lanes).tobytes(), "little")
    mask = int.from_bytes(array("Q", [M] * lanes).tobytes(), "little")
    width = 8 * lanes
    parts = []
    produced = 0
    while produced < n:
        parts.append(state.to_bytes(width, "little")[3::8])
        produced += lanes
        state = (state * a_k + add) & mask
    return b"".join(parts)[:n]

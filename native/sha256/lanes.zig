//! sha2-256 of many independent buffers at once, for the UnixFS importer (src/fluence_dao/ipfs/_sha256.py).
//!
//! One SHA-NI stream is latency-bound: each `sha256rnds2` waits for the previous one, so a core that could
//! issue more of them idles. Hashing 4 buffers in lockstep keeps 4 dependency chains in flight: about 1.7x
//! OpenSSL's single-stream speed (hashlib) on the same core. Built by `fluence-dao build` into
//! target/native/libfluence_sha256.so (x86-64-v2 + SHA); the Python side checks `fd_sha256_supported()` and a
//! few digests against hashlib before using it, and falls back to hashlib when anything is missing.
//!
//! State layout of the SHA extensions: two vectors per stream, ABEF = {F, E, B, A} and CDGH = {H, G, D, C}
//! (lane 0 first). Message words are loaded big-endian; W[16..64] come from sha256msg1/msg2.
const std = @import("std");

const V4 = @Vector(4, u32);
const ABI_VERSION: u32 = 1;
const MAX_LANES = 4;

const K = [64]u32{
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
const IV = [8]u32{ 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

/// Two rounds: CDGH and ABEF in, the new ABEF out (the old ABEF is the new CDGH). `wk` = W + K, low half.
inline fn rounds2(cdgh: V4, abef: V4, wk: V4) V4 {
    return asm ("sha256rnds2 %[abef], %[cdgh]"
        : [cdgh] "=x" (-> V4),
        : [_] "0" (cdgh),
          [abef] "x" (abef),
          [_] "{xmm0}" (wk),
    );
}

inline fn schedule1(w0: V4, w1: V4) V4 {
    return asm ("sha256msg1 %[w1], %[w0]"
        : [w0] "=x" (-> V4),
        : [_] "0" (w0),
          [w1] "x" (w1),
    );
}

inline fn schedule2(partial: V4, w3: V4) V4 {
    return asm ("sha256msg2 %[w3], %[partial]"
        : [partial] "=x" (-> V4),
        : [_] "0" (partial),
          [w3] "x" (w3),
    );
}

inline fn loadWords(p: [*]const u8) V4 {
    const words: V4 = @as(*align(1) const [4]u32, @ptrCast(p)).*;
    return @byteSwap(words);
}

/// Advance `lanes` states over `blocks` 64-byte blocks of each lane's data, all lanes in lockstep.
fn compress(comptime lanes: usize, abef: *[lanes]V4, cdgh: *[lanes]V4, data: [lanes][*]const u8, blocks: usize) void {
    var block: usize = 0;
    while (block < blocks) : (block += 1) {
        var w: [lanes][4]V4 = undefined; // a ring of the last 16 message words, 4 per vector
        var x = abef.*;
        var y = cdgh.*;
        inline for (0..lanes) |l| {
            inline for (0..4) |q| w[l][q] = loadWords(data[l] + block * 64 + q * 16);
        }
        inline for (0..16) |group| {
            inline for (0..lanes) |l| {
                if (group >= 4) {
                    // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four words at a time
                    const w_minus_7 = @shuffle(u32, w[l][(group + 2) % 4], w[l][(group + 3) % 4], [4]i32{ 1, 2, 3, -1 });
                    const partial = schedule1(w[l][group % 4], w[l][(group + 1) % 4]) +% w_minus_7;
                    w[l][group % 4] = schedule2(partial, w[l][(group + 3) % 4]);
                }
                const wk = w[l][group % 4] +% @as(V4, K[4 * group ..][0..4].*);
                y[l] = rounds2(y[l], x[l], wk);
                x[l] = rounds2(x[l], y[l], @shuffle(u32, wk, wk, [4]i32{ 2, 3, 2, 3 }));
            }
        }
        inline for (0..lanes) |l| {
            abef[l] +%= x[l];
            cdgh[l] +%= y[l];
        }
    }
}

/// Hash the last `len % 64` bytes of a `total`-byte message (at `tail`) with its padding, write the digest.
fn finish(abef: V4, cdgh: V4, tail: [*]const u8, total: usize, out: *[32]u8) void {
    const rest = total % 64;
    var last: [128]u8 = @splat(0);
    @memcpy(last[0..rest], tail[0..rest]);
    last[rest] = 0x80;
    const blocks: usize = if (rest + 9 <= 64) 1 else 2;
    std.mem.writeInt(u64, last[blocks * 64 - 8 ..][0..8], @as(u64, total) * 8, .big);
    var a = [1]V4{abef};
    var c = [1]V4{cdgh};
    compress(1, &a, &c, .{@as([*]const u8, &last)}, blocks);
    const words = [8]u32{ a[0][3], a[0][2], c[0][3], c[0][2], a[0][1], a[0][0], c[0][1], c[0][0] };
    for (words, 0..) |word, i| std.mem.writeInt(u32, out[i * 4 ..][0..4], word, .big);
}

fn hashLanes(comptime lanes: usize, ptrs: [lanes][*]const u8, lens: [lanes]usize, outs: [lanes]*[32]u8) void {
    var abef: [lanes]V4 = undefined;
    var cdgh: [lanes]V4 = undefined;
    var common: usize = std.math.maxInt(usize);
    inline for (0..lanes) |l| {
        abef[l] = V4{ IV[5], IV[4], IV[1], IV[0] };
        cdgh[l] = V4{ IV[7], IV[6], IV[3], IV[2] };
        common = @min(common, lens[l] / 64);
    }
    compress(lanes, &abef, &cdgh, ptrs, common);
    inline for (0..lanes) |l| {
        var a = [1]V4{abef[l]};
        var c = [1]V4{cdgh[l]};
        const own = lens[l] / 64 - common; // whole blocks past the common prefix: this lane alone
        compress(1, &a, &c, .{ptrs[l] + common * 64}, own);
        finish(a[0], c[0], ptrs[l] + (common + own) * 64, lens[l], outs[l]);
    }
}

fn hashGroup(comptime lanes: usize, ptrs: [*]const [*]const u8, lens: [*]const usize, out: [*]u8) void {
    var p: [lanes][*]const u8 = undefined;
    var n: [lanes]usize = undefined;
    var o: [lanes]*[32]u8 = undefined;
    inline for (0..lanes) |l| {
        p[l] = ptrs[l];
        n[l] = lens[l];
        o[l] = @ptrCast(out + l * 32);
    }
    hashLanes(lanes, p, n, o);
}

/// The sha2-256 digests of `count` buffers (`ptrs[i]`, `lens[i]` bytes) into `out` (32 * count bytes).
/// Buffers are taken 4 at a time; similar lengths go fastest (a longer buffer's excess runs alone).
export fn fd_sha256_many(count: usize, ptrs: [*]const [*]const u8, lens: [*]const usize, out: [*]u8) void {
    var i: usize = 0;
    while (count - i >= MAX_LANES) : (i += MAX_LANES) hashGroup(MAX_LANES, ptrs + i, lens + i, out + i * 32);
    if (count - i >= 2) {
        hashGroup(2, ptrs + i, lens + i, out + i * 32);
        i += 2;
    }
    if (count - i == 1) hashGroup(1, ptrs + i, lens + i, out + i * 32);
}

fn cpuid(leaf: u32, subleaf: u32) [4]u32 {
    var a: u32 = undefined;
    var b: u32 = undefined;
    var c: u32 = undefined;
    var d: u32 = undefined;
    asm volatile ("cpuid"
        : [a] "={eax}" (a),
          [b] "={ebx}" (b),
          [c] "={ecx}" (c),
          [d] "={edx}" (d),
        : [leaf] "{eax}" (leaf),
          [subleaf] "{ecx}" (subleaf),
    );
    return .{ a, b, c, d };
}

/// 1 when this CPU has what the library was built for (SHA extensions, SSSE3, SSE4.1/4.2, POPCNT), else 0.
export fn fd_sha256_supported() u32 {
    if (cpuid(0, 0)[0] < 7) return 0;
    const basic = cpuid(1, 0);
    const ssse3 = basic[2] & (1 << 9) != 0;
    const sse41 = basic[2] & (1 << 19) != 0;
    const sse42 = basic[2] & (1 << 20) != 0;
    const popcnt = basic[2] & (1 << 23) != 0;
    const sha = cpuid(7, 0)[1] & (1 << 29) != 0;
    return @intFromBool(ssse3 and sse41 and sse42 and popcnt and sha);
}

/// Bumped when the exported functions change; the loader refuses a library built from other sources.
export fn fd_sha256_abi() u32 {
    return ABI_VERSION;
}

//! Arithmetic modulo the secp256k1 field prime p = 2^256 - 2^32 - 977, written for wasm32.
//!
//! Why not std's field (fiat-crypto, four 64-bit limbs, Montgomery form): every limb product is a
//! 64x64->128-bit multiplication, which wasm32 without the `wide-arithmetic` proposal only has as a
//! compiler-rt call (`__multi3`); that made a field multiplication cost ~500 cycles. Here an element is ten
//! 26-bit limbs (radix 2^26, 260 bits), so every limb product is a native `i64.mul` of two values below
//! 2^27, and reduction uses the shape of p: 2^256 = 2^32 + 977 = 0x1000003D1 (mod p), hence
//! 2^260 = 0x1000003D10 (mod p).
//!
//! Representation: limbs l[0..9] with value sum(l[i] * 2^(26 i)), not necessarily below p. Every function
//! returns a *weakly normalised* element: l[0..8] <= 2^26 and l[9] < 2^22 (so value < 2^256 + 2^79). Every input is
//! expected in that form; `add`, `sub` and `mulSmall` carry their result back into it, so callers never track
//! limb growth. `normalize` gives the canonical value in [0, p) for encoding and comparisons.
//!
//! Constant time: no branch and no memory index depends on a limb value; `cMov` selects with masks;
//! `invert` is modinv.zig's fixed-length safegcd.
const std = @import("std");
const builtin = @import("builtin");
const modinv = @import("modinv.zig");

/// Overflow checks only in tests: the limb bounds above rule overflow out, and the tests (built with safety
/// and asserting the bounds of every multiplication input) check them; in the module the checks cost ~5x.
const checked = builtin.is_test;

const M26: u32 = (1 << 26) - 1;
const M22: u32 = (1 << 22) - 1;

/// p in radix 2^26.
const p_limbs = [10]u32{ 0x3FFFC2F, 0x3FFFFBF, M26, M26, M26, M26, M26, M26, M26, M22 };

pub const Fe = struct {
    l: [10]u32,

    pub const zero = Fe{ .l = @splat(0) };
    pub const one = Fe{ .l = .{ 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 } };

    /// A 256-bit integer (any value; reduced modulo p by later operations).
    pub fn fromInt(x: u256) Fe {
        var out: Fe = undefined;
        for (&out.l, 0..) |*limb, i| limb.* = @as(u32, @truncate(x >> @intCast(26 * i))) & M26;
        out.l[9] &= M22; // the top limb holds bits 234..255
        return out;
    }

    /// A 32-byte big-endian encoding (any value below 2^256).
    pub fn fromBytes(b: [32]u8) Fe {
        return fromInt(std.mem.readInt(u256, &b, .big));
    }

    /// The canonical value in [0, p) as a 256-bit integer.
    pub fn toInt(a: Fe) u256 {
        const n = a.normalize();
        var x: u256 = 0;
        for (n.l, 0..) |limb, i| x |= @as(u256, limb) << @intCast(26 * i);
        return x;
    }

    /// The canonical value, 32 bytes big-endian.
    pub fn toBytes(a: Fe) [32]u8 {
        var out: [32]u8 = undefined;
        std.mem.writeInt(u256, &out, a.toInt(), .big);
        return out;
    }

    pub fn isOdd(a: Fe) bool {
        return a.normalize().l[0] & 1 == 1;
    }

    pub fn isZero(a: Fe) bool {
        var acc: u32 = 0;
        for (a.normalize().l) |limb| acc |= limb;
        return acc == 0;
    }

    /// Replaces `a` with `b` when `c` is 1, in constant time.
    pub fn cMov(a: *Fe, b: Fe, c: u1) void {
        const mask = -%@as(u32, c);
        for (&a.l, b.l) |*x, y| x.* ^= mask & (x.* ^ y);
    }

    /// Carries limbs below 2^31 back into the weak form (the top bits fold in as 0x1000003D1).
    fn carry(l_: [10]u32) Fe {
        @setRuntimeSafety(checked);
        var l = l_;
        inline for (0..9) |i| {
            l[i + 1] += l[i] >> 26;
            l[i] &= M26;
        }
        const top = l[9] >> 22; // < 2^10
        l[9] &= M22;
        l[0] += top * 0x3D1;
        l[1] += top * 0x40 + (l[0] >> 26);
        l[0] &= M26;
        l[2] += l[1] >> 26;
        l[1] &= M26;
        return .{ .l = l };
    }

    pub fn add(a: Fe, b: Fe) Fe {
        @setRuntimeSafety(checked);
        var l: [10]u32 = undefined;
        for (&l, a.l, b.l) |*r, x, y| r.* = x + y;
        return carry(l);
    }

    pub fn dbl(a: Fe) Fe {
        return a.add(a);
    }

    /// a - b, computed as a + 2p - b (2p exceeds every weak limb of b, so no limb goes negative).
    pub fn sub(a: Fe, b: Fe) Fe {
        @setRuntimeSafety(checked);
        var l: [10]u32 = undefined;
        for (&l, a.l, b.l, p_limbs) |*r, x, y, q| r.* = x + 2 * q - y;
        return carry(l);
    }

    pub fn neg(a: Fe) Fe {
        return zero.sub(a);
    }

    /// a * k for a small constant k (<= 32).
    pub fn mulSmall(a: Fe, comptime k: u32) Fe {
        @setRuntimeSafety(checked);
        comptime std.debug.assert(k <= 32);
        var l: [10]u32 = undefined;
        for (&l, a.l) |*r, x| r.* = x * k;
        return carry(l);
    }

    fn checkInput(a: Fe) void {
        if (builtin.is_test) {
            for (a.l[0..9]) |limb| std.debug.assert(limb <= 1 << 26);
            std.debug.assert(a.l[9] < 1 << 23);
        }
    }

    /// Reduces the 19 column sums of a product (each < 2^57) to a weak element.
    fn reduce(c_: [19]u64) Fe {
        @setRuntimeSafety(checked);
        var c = c_;
        // 1. carry the whole product into 26-bit digits; c19 takes what is above 2^494
        var c19: u64 = 0;
        inline for (0..19) |i| {
            const next = c[i] >> 26;
            c[i] &= M26;
            if (i < 18) c[i + 1] += next else c19 = next;
        }
        // 2. fold digits 10..19 (weight 2^260 * 2^(26 i)) down: 2^260 = 0x400 * 2^26 + 0x3D10 (mod p)
        var r: [10]u64 = undefined;
        inline for (0..10) |i| r[i] = c[i];
        inline for (0..9) |i| {
            r[i] += c[10 + i] * 0x3D10;
            r[i + 1] += c[10 + i] * 0x400;
        }
        r[9] += c19 * 0x3D10;
        const top = c19 * 0x400; // weight 2^260 again
        r[0] += top * 0x3D10;
        r[1] += top * 0x400;
        // 3. carry into 26-bit limbs; fold the bits above 2^256 once more (2^256 = 0x40 * 2^26 + 0x3D1)
        inline for (0..9) |i| {
            r[i + 1] += r[i] >> 26;
            r[i] &= M26;
        }
        const hi = r[9] >> 22;
        r[9] &= M22;
        r[0] += hi * 0x3D1;
        r[1] += hi * 0x40 + (r[0] >> 26);
        r[0] &= M26;
        r[2] += r[1] >> 26;
        r[1] &= M26;
        var out: Fe = undefined;
        inline for (0..10) |i| out.l[i] = @intCast(r[i]);
        return out;
    }

    pub fn mul(a: Fe, b: Fe) Fe {
        @setRuntimeSafety(checked);
        checkInput(a);
        checkInput(b);
        var x: [10]u64 = undefined;
        var y: [10]u64 = undefined;
        inline for (0..10) |i| {
            x[i] = a.l[i];
            y[i] = b.l[i];
        }
        var c: [19]u64 = @splat(0);
        inline for (0..10) |i| {
            inline for (0..10) |j| c[i + j] += x[i] * y[j];
        }
        return reduce(c);
    }

    pub fn sq(a: Fe) Fe {
        @setRuntimeSafety(checked);
        checkInput(a);
        var x: [10]u64 = undefined;
        var x2: [10]u64 = undefined;
        inline for (0..10) |i| {
            x[i] = a.l[i];
            x2[i] = 2 * x[i];
        }
        var c: [19]u64 = @splat(0);
        inline for (0..10) |i| {
            c[2 * i] += x[i] * x[i];
            inline for (i + 1..10) |j| c[i + j] += x2[i] * x[j];
        }
        return reduce(c);
    }

    /// 1/a (0 for 0): constant-time safegcd (modinv.zig), ~2x faster here than a Fermat power chain.
    pub fn invert(a: Fe) Fe {
        return fromInt(modinv.modP.invert(a.toInt()));
    }

    /// The canonical form: limbs of the value in [0, p).
    pub fn normalize(a: Fe) Fe {
        @setRuntimeSafety(checked);
        var l = a.l;
        // value < 2^257: fold bit 256 (if set) and carry all the way; afterwards value < 2^256
        inline for (0..2) |_| {
            const top = l[9] >> 22;
            l[9] &= M22;
            l[0] += top * 0x3D1;
            l[1] += top * 0x40;
            inline for (0..9) |i| {
                l[i + 1] += l[i] >> 26;
                l[i] &= M26;
            }
        }
        // subtract p when value >= p: value + 0x1000003D1 reaches 2^256 exactly then
        var t: [10]u32 = l;
        t[0] += 0x3D1;
        t[1] += 0x40;
        inline for (0..9) |i| {
            t[i + 1] += t[i] >> 26;
            t[i] &= M26;
        }
        const ge: u1 = @intCast(t[9] >> 22);
        t[9] &= M22;
        var out = Fe{ .l = l };
        out.cMov(.{ .l = t }, ge);
        return out;
    }

    pub fn equivalent(a: Fe, b: Fe) bool {
        return a.sub(b).isZero();
    }
};

const p_int: u256 = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;

test "limbs of p" {
    var x: u256 = 0;
    for (p_limbs, 0..) |limb, i| x |= @as(u256, limb) << @intCast(26 * i);
    try std.testing.expectEqual(p_int, x);
}

fn mulModP(a: u256, b: u256) u256 {
    return @intCast((@as(u512, a) * b) % p_int);
}

test "arithmetic equals u512 reference on random and edge values" {
    var prng = std.Random.DefaultPrng.init(0xf1e1d);
    const random = prng.random();
    const edges = [_]u256{ 0, 1, 2, p_int - 1, p_int - 2, p_int, p_int + 1, (1 << 256) - 1, 1 << 255, 0x1000003D1, (1 << 234) - 1, 1 << 234 };
    var values: [60]u256 = undefined;
    for (&values, 0..) |*v, i| v.* = if (i < edges.len) edges[i] else random.int(u256);
    for (values) |a| {
        const fa = Fe.fromInt(a);
        try std.testing.expectEqual(a % p_int, fa.toInt());
        try std.testing.expectEqual(mulModP(a, a), fa.sq().toInt());
        try std.testing.expectEqual((p_int - a % p_int) % p_int, fa.neg().toInt());
        try std.testing.expectEqual(mulModP(a, 21), fa.mulSmall(21).toInt());
        if (a % p_int != 0) try std.testing.expectEqual(@as(u256, 1), fa.invert().mul(fa).toInt());
        try std.testing.expectEqual(a % p_int == 0, fa.isZero());
        for (values[0..20]) |b| {
            const fb = Fe.fromInt(b);
            try std.testing.expectEqual(mulModP(a, b), fa.mul(fb).toInt());
            try std.testing.expectEqual(@as(u256, @intCast((@as(u512, a % p_int) + b % p_int) % p_int)), fa.add(fb).toInt());
            try std.testing.expectEqual(@as(u256, @intCast((@as(u512, a % p_int) + p_int - b % p_int) % p_int)), fa.sub(fb).toInt());
        }
    }
    try std.testing.expect(Fe.zero.invert().isZero());
}

test "long chains stay weakly normalised and correct" {
    var x = Fe.fromInt(3);
    var ref: u256 = 3;
    for (0..2000) |i| {
        const k: u256 = i + 7;
        x = x.mul(x.add(Fe.fromInt(k))).sub(Fe.fromInt(k * k)).mulSmall(21).dbl();
        ref = @intCast((@as(u512, ref) * ((ref + k) % p_int) % p_int + p_int - (k * k) % p_int) % p_int);
        ref = mulModP(ref, 42);
        try std.testing.expectEqual(ref, x.toInt());
    }
}

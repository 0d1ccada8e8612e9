//! Ethereum-style secp256k1 signing.
//!
//! std's `Ecdsa(Secp256k1, Keccak256)` is not used: it can return high-s signatures, exposes no recovery id and
//! does not derive its nonce with RFC 6979. Here: deterministic nonce (RFC 6979, HMAC-SHA256, as libsecp256k1
//! and eth-keys do), R = k*G with the constant-time fixed-base comb (comb.zig over curve.zig and field.zig:
//! radix-2^26 field arithmetic that wasm32 multiplies natively), recovery id = parity of R.y, low-s
//! normalisation (s > n/2 -> n - s, flipping the recovery id). Scalars mod n are std's
//! (`Secp256k1.scalar`, constant time) except the nonce's inverse (modinv.zig, constant-time batched safegcd).
const std = @import("std");
const Secp256k1 = std.crypto.ecc.Secp256k1;
const scalar = Secp256k1.scalar;
const Scalar = scalar.Scalar;
const HmacSha256 = std.crypto.auth.hmac.sha2.HmacSha256;
const Keccak256 = std.crypto.hash.sha3.Keccak256;
const comb = @import("comb.zig");
const modinv = @import("modinv.zig");

pub const Signature = struct {
    r: [32]u8,
    s: [32]u8,
    /// 0 or 1: parity of R.y after low-s normalisation.
    recid: u1,
};

pub const KeyError = error{InvalidSecretKey};

/// A secret key is valid if it is in [1, n-1].
pub fn isValidSecretKey(d: [32]u8) bool {
    scalar.rejectNonCanonical(d, .big) catch return false;
    var acc: u8 = 0;
    for (d) |b| acc |= b;
    return acc != 0;
}

/// The 20-byte Ethereum address of the secret key `d`: keccak256(X || Y)[12..].
pub fn address(d: [32]u8) KeyError![20]u8 {
    if (!isValidSecretKey(d)) return error.InvalidSecretKey;
    const p = comb.mulBase(d);
    if (p.isIdentity()) return error.InvalidSecretKey;
    const affine = p.toAffine();
    var xy: [64]u8 = undefined;
    xy[0..32].* = affine.x.toBytes();
    xy[32..64].* = affine.y.toBytes();
    var h: [32]u8 = undefined;
    Keccak256.hash(&xy, &h, .{});
    var out: [20]u8 = undefined;
    @memcpy(&out, h[12..]);
    return out;
}

/// Reduces a 32-byte big-endian integer modulo the group order n.
fn reduceModN(x: [32]u8) [32]u8 {
    var wide: [48]u8 = @as([48]u8, @splat(0));
    @memcpy(wide[16..], &x);
    return scalar.reduce48(wide, .big);
}

/// RFC 6979 (section 3.2) deterministic nonce generator for qlen = hlen = 256 bits.
const Rfc6979 = struct {
    k: [32]u8,
    v: [32]u8,
    /// A candidate was drawn from V: the next draw first updates K and V (step h.3).
    used: bool = false,

    fn init(d: [32]u8, h1: [32]u8) Rfc6979 {
        const h_reduced = reduceModN(h1); // bits2octets(h1)
        var g = Rfc6979{ .k = @as([32]u8, @splat(0)), .v = @as([32]u8, @splat(1)) };
        inline for (.{ 0x00, 0x01 }) |sep| {
            var mac = HmacSha256.init(&g.k);
            mac.update(&g.v);
            mac.update(&[_]u8{sep});
            mac.update(&d);
            mac.update(&h_reduced);
            mac.final(&g.k);
            HmacSha256.create(&g.v, &g.v, &g.k);
        }
        return g;
    }

    /// The next candidate k in [1, n-1].
    fn next(g: *Rfc6979) [32]u8 {
        while (true) {
            if (g.used) {
                // step h.3 for the previous candidate (rejected here or by the caller): K, V move on
                var mac = HmacSha256.init(&g.k);
                mac.update(&g.v);
                mac.update(&[_]u8{0x00});
                mac.final(&g.k);
                HmacSha256.create(&g.v, &g.v, &g.k);
            }
            HmacSha256.create(&g.v, &g.v, &g.k);
            g.used = true;
            if (isValidSecretKey(g.v)) return g.v;
        }
    }

    fn wipe(g: *Rfc6979) void {
        std.crypto.secureZero(u8, &g.k);
        std.crypto.secureZero(u8, &g.v);
    }
};

/// Half the group order, big-endian: s values above it are replaced by n - s.
const half_order: u256 = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
const group_order: u256 = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141;

/// Signs a 32-byte message hash with secret key `d`.
pub fn sign(d: [32]u8, msg_hash: [32]u8) KeyError!Signature {
    if (!isValidSecretKey(d)) return error.InvalidSecretKey;
    const d_scalar = Scalar.fromBytes(d, .big) catch return error.InvalidSecretKey;
    const z = Scalar.fromBytes(reduceModN(msg_hash), .big) catch unreachable;
    var gen = Rfc6979.init(d, msg_hash);
    defer gen.wipe();
    while (true) {
        var k = gen.next();
        defer std.crypto.secureZero(u8, &k);
        const big_r = comb.mulBase(k);
        if (big_r.isIdentity()) continue;
        const affine = big_r.toAffine();
        const rx = affine.x.toBytes();
        // r = R.x mod n. R.x >= n happens with probability ~2^-128; Ethereum's v cannot express that case, so
        // take the next nonce instead (as if r were invalid).
        if (std.mem.readInt(u256, &rx, .big) >= group_order) continue;
        const r = Scalar.fromBytes(rx, .big) catch continue;
        if (r.isZero()) continue;
        var k_inv_bytes: [32]u8 = undefined;
        std.mem.writeInt(u256, &k_inv_bytes, modinv.modN.invert(std.mem.readInt(u256, &k, .big)), .big);
        defer std.crypto.secureZero(u8, &k_inv_bytes);
        const k_inv = Scalar.fromBytes(k_inv_bytes, .big) catch continue;
        const s = k_inv.mul(z.add(r.mul(d_scalar)));
        if (s.isZero()) continue;
        var recid: u1 = @intFromBool(affine.y.isOdd());
        var s_bytes = s.toBytes(.big);
        if (std.mem.readInt(u256, &s_bytes, .big) > half_order) {
            s_bytes = s.neg().toBytes(.big);
            recid ^= 1;
        }
        return .{ .r = r.toBytes(.big), .s = s_bytes, .recid = recid };
    }
}

/// keccak256 of `data`.
pub fn keccak(data: []const u8) [32]u8 {
    var h: [32]u8 = undefined;
    Keccak256.hash(data, &h, .{});
    return h;
}

fn expectSig(d_hex: []const u8, msg: []const u8, want_hex: []const u8) !void {
    var d: [32]u8 = undefined;
    _ = try std.fmt.hexToBytes(&d, d_hex);
    var want: [65]u8 = undefined;
    _ = try std.fmt.hexToBytes(&want, want_hex);
    const sig = try sign(d, keccak(msg));
    try std.testing.expectEqualSlices(u8, want[0..32], &sig.r);
    try std.testing.expectEqualSlices(u8, want[32..64], &sig.s);
    try std.testing.expectEqual(want[64], sig.recid);
}

// Expected values computed with eth-keys (`PrivateKey(d).sign_msg_hash(keccak(msg))`).
test "signatures equal eth-keys" {
    const d = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
    try expectSig(d, "hello", "bc81bfc04b658485b9820cf4fac760c84f0fc628da21c9e64ed8aaede215e63376cc1bfb23f9869c5b71a4069b48fce3ab0caaebc6bfb7a81cb12ac3b9b2f7b101");
    try expectSig(d, "", "8aeffbfd072adec5a47c2cf0c65ea6360a8be719e48cf851ac667879c712b38276e45dc7c134e82237f1c910c73641383c77a2501751c92cb72247e09516166000");
    try expectSig("0000000000000000000000000000000000000000000000000000000000000001", "x", "58b5854060c96fc6b4583d9c97ecbd964db42c61e6f2c9b0522795d5186c285d61be067c9f47e8c1fb95f6e7293eb849a3ec0d32b915f10a6c809d2821f0355f01");
}

test "addresses equal eth-keys" {
    const hexmod = @import("hex");
    var d: [32]u8 = undefined;
    _ = try std.fmt.hexToBytes(&d, "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
    try std.testing.expectEqualStrings("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23", &hexmod.checksumAddress(try address(d)));
    var one = @as([32]u8, @splat(0));
    one[31] = 1;
    try std.testing.expectEqualStrings("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf", &hexmod.checksumAddress(try address(one)));
}

test "secret key range" {
    try std.testing.expect(!isValidSecretKey(@as([32]u8, @splat(0))));
    try std.testing.expect(!isValidSecretKey(@as([32]u8, @splat(0xff))));
    var n: [32]u8 = undefined;
    std.mem.writeInt(u256, &n, group_order, .big);
    try std.testing.expect(!isValidSecretKey(n));
    std.mem.writeInt(u256, &n, group_order - 1, .big);
    try std.testing.expect(isValidSecretKey(n));
    try std.testing.expectError(error.InvalidSecretKey, sign(@as([32]u8, @splat(0)), keccak("x")));
}

test "s is always low" {
    var d = @as([32]u8, @splat(0));
    var i: u32 = 0;
    while (i < 64) : (i += 1) {
        d[31] = @intCast(i + 1);
        d[0] = @intCast(i * 3);
        const sig = try sign(d, keccak(std.mem.asBytes(&i)));
        try std.testing.expect(std.mem.readInt(u256, &sig.s, .big) <= half_order);
    }
}

test {
    _ = comb;
    _ = modinv;
}

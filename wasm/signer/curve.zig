//! secp256k1 points (y^2 = x^3 + 7) over field.zig, in homogeneous projective coordinates (X:Y:Z), x = X/Z.
//!
//! Addition and doubling are the complete formulas of Renes, Costello and Batina, "Complete addition
//! formulas for prime order elliptic curves" (eprint 2015/1060), algorithms 7 (addition), 8 (mixed
//! addition) and 9 (doubling) for a = 0, b3 = 3 * 7 = 21. Complete means no exceptional cases (equal
//! points, inverse points and the identity are handled by the same straight-line code), so they run in
//! constant time for secret operands. Mixed addition cannot take the identity as its affine operand; the
//! caller says when it is one (`addAffine`'s `q_is_identity`) and the sum is replaced by P with a `cMov`.
const std = @import("std");
const Fe = @import("field.zig").Fe;

pub const Affine = struct {
    x: Fe,
    y: Fe,

    pub fn cMov(a: *Affine, b: Affine, c: u1) void {
        a.x.cMov(b.x, c);
        a.y.cMov(b.y, c);
    }
};

pub const Point = struct {
    x: Fe,
    y: Fe,
    z: Fe,

    pub const identity = Point{ .x = Fe.zero, .y = Fe.one, .z = Fe.zero };

    /// G, the generator.
    pub const generator = Point{
        .x = Fe.fromInt(0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798),
        .y = Fe.fromInt(0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8),
        .z = Fe.one,
    };

    pub fn fromAffine(a: Affine) Point {
        return .{ .x = a.x, .y = a.y, .z = Fe.one };
    }

    pub fn isIdentity(p: Point) bool {
        return p.z.isZero();
    }

    pub fn cMov(p: *Point, q: Point, c: u1) void {
        p.x.cMov(q.x, c);
        p.y.cMov(q.y, c);
        p.z.cMov(q.z, c);
    }

    /// Affine coordinates of a point that is not the identity (one field inversion).
    pub fn toAffine(p: Point) Affine {
        const zinv = p.z.invert();
        return .{ .x = p.x.mul(zinv), .y = p.y.mul(zinv) };
    }

    /// P + Q (RCB algorithm 7).
    pub fn add(p: Point, q: Point) Point {
        var t0 = p.x.mul(q.x);
        var t1 = p.y.mul(q.y);
        var t2 = p.z.mul(q.z);
        var t3 = p.x.add(p.y).mul(q.x.add(q.y)).sub(t0.add(t1)); // X1 Y2 + X2 Y1
        const t4 = p.y.add(p.z).mul(q.y.add(q.z)).sub(t1.add(t2)); // Y1 Z2 + Y2 Z1
        var y3 = p.x.add(p.z).mul(q.x.add(q.z)).sub(t0.add(t2)); // X1 Z2 + X2 Z1
        t0 = t0.mulSmall(3);
        t2 = t2.mulSmall(21);
        var z3 = t1.add(t2);
        t1 = t1.sub(t2);
        y3 = y3.mulSmall(21);
        const x3 = t3.mul(t1).sub(t4.mul(y3));
        const y3_out = t1.mul(z3).add(y3.mul(t0));
        t3 = t0.mul(t3);
        z3 = z3.mul(t4).add(t3);
        return .{ .x = x3, .y = y3_out, .z = z3 };
    }

    /// P + Q for an affine Q (RCB algorithm 8); Q must not be the identity.
    fn addMixed(p: Point, q: Affine) Point {
        var t0 = p.x.mul(q.x);
        var t1 = p.y.mul(q.y);
        var t3 = q.x.add(q.y).mul(p.x.add(p.y)).sub(t0.add(t1)); // X1 Y2 + X2 Y1
        const t4 = q.y.mul(p.z).add(p.y); // Y1 + Y2 Z1
        var y3 = q.x.mul(p.z).add(p.x); // X1 + X2 Z1
        t0 = t0.mulSmall(3);
        const t2 = p.z.mulSmall(21);
        var z3 = t1.add(t2);
        t1 = t1.sub(t2);
        y3 = y3.mulSmall(21);
        const x3 = t3.mul(t1).sub(t4.mul(y3));
        const y3_out = t1.mul(z3).add(y3.mul(t0));
        t3 = t0.mul(t3);
        z3 = z3.mul(t4).add(t3);
        return .{ .x = x3, .y = y3_out, .z = z3 };
    }

    /// P + Q, or P when `q_is_identity` is 1 (then Q's coordinates are ignored); constant time.
    pub fn addAffine(p: Point, q: Affine, q_is_identity: u1) Point {
        var sum = p.addMixed(q);
        sum.cMov(p, q_is_identity);
        return sum;
    }

    /// 2P (RCB algorithm 9).
    pub fn dbl(p: Point) Point {
        var t0 = p.y.sq();
        var z3 = t0.mulSmall(8);
        const t1 = p.y.mul(p.z);
        var t2 = p.z.sq().mulSmall(21);
        const x3 = t2.mul(z3);
        var y3 = t0.add(t2);
        z3 = t1.mul(z3);
        t2 = t2.mulSmall(3);
        t0 = t0.sub(t2);
        y3 = t0.mul(y3).add(x3);
        const x3_out = t0.mul(p.x.mul(p.y)).dbl();
        return .{ .x = x3_out, .y = y3, .z = z3 };
    }

    /// Same point (projective coordinates differ by a factor).
    pub fn equivalent(p: Point, q: Point) bool {
        const same_x = p.x.mul(q.z).equivalent(q.x.mul(p.z));
        const same_y = p.y.mul(q.z).equivalent(q.y.mul(p.z));
        return same_x and same_y;
    }
};

// Tests: against std's secp256k1 (fiat-crypto field, its own copy of the same formulas).
const Std = std.crypto.ecc.Secp256k1;

fn fromStd(p: Std) Point {
    if (p.rejectIdentity()) |_| {
        const a = p.affineCoordinates();
        return Point.fromAffine(.{ .x = Fe.fromBytes(a.x.toBytes(.big)), .y = Fe.fromBytes(a.y.toBytes(.big)) });
    } else |_| return Point.identity;
}

fn expectSame(want: Std, got: Point) !void {
    if (want.rejectIdentity()) |_| {
        const a = want.affineCoordinates();
        const g = got.toAffine();
        try std.testing.expectEqual(a.x.toBytes(.big), g.x.toBytes());
        try std.testing.expectEqual(a.y.toBytes(.big), g.y.toBytes());
    } else |_| try std.testing.expect(got.isIdentity());
}

test "generator, addition, doubling and mixed addition equal std's" {
    var prng = std.Random.DefaultPrng.init(0xc0ffee);
    const random = prng.random();
    try expectSame(Std.basePoint, Point.generator);
    for (0..12) |_| {
        var s1: [32]u8 = undefined;
        var s2: [32]u8 = undefined;
        random.bytes(&s1);
        random.bytes(&s2);
        s1[0] &= 0x7f;
        s2[0] &= 0x7f;
        const a = try Std.basePoint.mul(s1, .big);
        const b = try Std.basePoint.mul(s2, .big);
        const pa = fromStd(a);
        const pb = fromStd(b);
        try expectSame(a.add(b), pa.add(pb));
        try expectSame(a.dbl(), pa.dbl());
        try expectSame(a.add(b), pa.addAffine(pb.toAffine(), 0));
        try expectSame(a, pa.addAffine(pb.toAffine(), 1));
        // exceptional cases of incomplete formulas: P + P, P + (-P), identity + Q, P + identity
        try expectSame(a.dbl(), pa.addAffine(pa.toAffine(), 0));
        try expectSame(a.dbl(), pa.add(pa));
        const neg_a = Affine{ .x = pa.toAffine().x, .y = pa.toAffine().y.neg() };
        try std.testing.expect(pa.addAffine(neg_a, 0).isIdentity());
        try expectSame(b, Point.identity.addAffine(pb.toAffine(), 0));
        try expectSame(a, pa.add(Point.identity));
        try std.testing.expect(Point.identity.dbl().isIdentity());
    }
}

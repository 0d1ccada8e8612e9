//! Hex helpers for Ethereum values, shared by the modules (the build passes it as the Zig module `hex`): `0x`-prefixed byte strings, quantities and EIP-55 addresses.
const std = @import("std");
const Keccak256 = std.crypto.hash.sha3.Keccak256;

pub const Error = error{ InvalidHex, OutOfMemory };

const digits = "0123456789abcdef";

/// "0x" followed by the lowercase hex of `bytes`.
pub fn encode(a: std.mem.Allocator, bytes: []const u8) ![]u8 {
    const out = try a.alloc(u8, 2 + bytes.len * 2);
    out[0] = '0';
    out[1] = 'x';
    for (bytes, 0..) |b, i| {
        out[2 + i * 2] = digits[b >> 4];
        out[3 + i * 2] = digits[b & 15];
    }
    return out;
}

fn nibble(c: u8) ?u8 {
    return switch (c) {
        '0'...'9' => c - '0',
        'a'...'f' => c - 'a' + 10,
        'A'...'F' => c - 'A' + 10,
        else => null,
    };
}

/// True if `s` starts with "0x" or "0X".
pub fn hasPrefix(s: []const u8) bool {
    return s.len >= 2 and s[0] == '0' and (s[1] == 'x' or s[1] == 'X');
}

/// Decodes "0x..." (an even number of hex digits, possibly none) into newly allocated bytes.
pub fn decode(a: std.mem.Allocator, s: []const u8) Error![]u8 {
    if (!hasPrefix(s)) return error.InvalidHex;
    const body = s[2..];
    if (body.len % 2 != 0) return error.InvalidHex;
    const out = try a.alloc(u8, body.len / 2);
    errdefer a.free(out);
    try decodeInto(out, body);
    return out;
}

/// Decodes exactly `out.len` bytes from "0x" + 2*out.len hex digits.
pub fn decodeFixed(out: []u8, s: []const u8) error{InvalidHex}!void {
    if (!hasPrefix(s) or s.len != 2 + out.len * 2) return error.InvalidHex;
    try decodeInto(out, s[2..]);
}

fn decodeInto(out: []u8, body: []const u8) error{InvalidHex}!void {
    for (out, 0..) |*b, i| {
        const hi = nibble(body[2 * i]) orelse return error.InvalidHex;
        const lo = nibble(body[2 * i + 1]) orelse return error.InvalidHex;
        b.* = (hi << 4) | lo;
    }
}

/// Minimal big-endian bytes of `v` (empty for zero), written into `buf`; returns the used tail.
pub fn minimalBigEndian(buf: *[32]u8, v: u256) []const u8 {
    std.mem.writeInt(u256, buf, v, .big);
    var i: usize = 0;
    while (i < 32 and buf[i] == 0) i += 1;
    return buf[i..];
}

/// "0x" + minimal hex digits of `v` ("0x0" for zero), the JSON-RPC quantity format.
pub fn encodeQuantity(a: std.mem.Allocator, v: u256) ![]u8 {
    if (v == 0) return a.dupe(u8, "0x0");
    var tmp: [64]u8 = undefined;
    var n: usize = 0;
    var x = v;
    while (x != 0) : (x >>= 4) {
        tmp[n] = digits[@as(usize, @intCast(x & 15))];
        n += 1;
    }
    const out = try a.alloc(u8, 2 + n);
    out[0] = '0';
    out[1] = 'x';
    for (0..n) |i| out[2 + i] = tmp[n - 1 - i];
    return out;
}

/// EIP-55 mixed-case checksum encoding of a 20-byte address ("0x" + 40 hex digits).
pub fn checksumAddress(addr: [20]u8) [42]u8 {
    var out: [42]u8 = undefined;
    out[0] = '0';
    out[1] = 'x';
    for (addr, 0..) |b, i| {
        out[2 + i * 2] = digits[b >> 4];
        out[3 + i * 2] = digits[b & 15];
    }
    var h: [32]u8 = undefined;
    Keccak256.hash(out[2..], &h, .{});
    for (out[2..], 0..) |*c, i| {
        const hn = if (i % 2 == 0) h[i / 2] >> 4 else h[i / 2] & 15;
        if (c.* >= 'a' and hn >= 8) c.* -= 32;
    }
    return out;
}

pub const AddressError = error{ InvalidAddress, BadChecksum };

/// Parses "0x" + 40 hex digits. All-lowercase or all-uppercase digits are accepted as is; mixed case must be a
/// valid EIP-55 checksum (a typo in a checksummed address is caught instead of sending funds elsewhere).
pub fn parseAddress(s: []const u8) AddressError![20]u8 {
    var out: [20]u8 = undefined;
    decodeFixed(&out, s) catch return error.InvalidAddress;
    var has_lower = false;
    var has_upper = false;
    for (s[2..]) |c| {
        if (c >= 'a' and c <= 'f') has_lower = true;
        if (c >= 'A' and c <= 'F') has_upper = true;
    }
    if (has_lower and has_upper) {
        const expected = checksumAddress(out);
        if (!std.mem.eql(u8, expected[2..], s[2..])) return error.BadChecksum;
    }
    return out;
}

pub const QuantityError = error{ InvalidNumber, NumberTooLarge };

/// Parses a non-negative integer written in decimal ("123") or hex ("0x7b"). No sign, no fraction, no exponent,
/// no leading "+", no whitespace; hex may be "0x0" but not bare "0x".
pub fn parseQuantity(comptime T: type, s: []const u8) QuantityError!T {
    if (hasPrefix(s)) {
        const body = s[2..];
        if (body.len == 0) return error.InvalidNumber;
        var v: T = 0;
        for (body) |c| {
            const d = nibble(c) orelse return error.InvalidNumber;
            v = std.math.mul(T, v, 16) catch return error.NumberTooLarge;
            v = std.math.add(T, v, d) catch return error.NumberTooLarge;
        }
        return v;
    }
    if (s.len == 0) return error.InvalidNumber;
    var v: T = 0;
    for (s) |c| {
        if (c < '0' or c > '9') return error.InvalidNumber;
        v = std.math.mul(T, v, 10) catch return error.NumberTooLarge;
        v = std.math.add(T, v, c - '0') catch return error.NumberTooLarge;
    }
    return v;
}

test "encode and decode" {
    const a = std.testing.allocator;
    const e = try encode(a, &.{ 0x00, 0xab, 0xff });
    defer a.free(e);
    try std.testing.expectEqualStrings("0x00abff", e);
    const d = try decode(a, "0x00ABff");
    defer a.free(d);
    try std.testing.expectEqualSlices(u8, &.{ 0x00, 0xab, 0xff }, d);
    try std.testing.expectError(error.InvalidHex, decode(a, "00ab"));
    try std.testing.expectError(error.InvalidHex, decode(a, "0xabc"));
    try std.testing.expectError(error.InvalidHex, decode(a, "0xzz"));
    const empty = try decode(a, "0x");
    defer a.free(empty);
    try std.testing.expectEqual(@as(usize, 0), empty.len);
}

test "quantities" {
    try std.testing.expectEqual(@as(u64, 123), try parseQuantity(u64, "123"));
    try std.testing.expectEqual(@as(u64, 0x7b), try parseQuantity(u64, "0x7B"));
    try std.testing.expectEqual(@as(u64, 0), try parseQuantity(u64, "0x0"));
    try std.testing.expectError(error.InvalidNumber, parseQuantity(u64, "0x"));
    try std.testing.expectError(error.InvalidNumber, parseQuantity(u64, "-1"));
    try std.testing.expectError(error.InvalidNumber, parseQuantity(u64, "1.5"));
    try std.testing.expectError(error.InvalidNumber, parseQuantity(u64, "1e3"));
    try std.testing.expectError(error.InvalidNumber, parseQuantity(u64, ""));
    try std.testing.expectError(error.NumberTooLarge, parseQuantity(u64, "18446744073709551616"));
    try std.testing.expectEqual(@as(u64, std.math.maxInt(u64)), try parseQuantity(u64, "18446744073709551615"));
    try std.testing.expectEqual(@as(u256, std.math.maxInt(u256)), try parseQuantity(u256, "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"));
    try std.testing.expectError(error.NumberTooLarge, parseQuantity(u256, "0x10000000000000000000000000000000000000000000000000000000000000000"));
    const a = std.testing.allocator;
    const q = try encodeQuantity(a, 0x1ab);
    defer a.free(q);
    try std.testing.expectEqualStrings("0x1ab", q);
}

test "EIP-55 checksum (vectors from the EIP)" {
    const vectors = [_][]const u8{
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    };
    for (vectors) |v| {
        const addr = try parseAddress(v);
        const cs = checksumAddress(addr);
        try std.testing.expectEqualStrings(v, &cs);
    }
    try std.testing.expectError(error.BadChecksum, parseAddress("0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
    _ = try parseAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
    try std.testing.expectError(error.InvalidAddress, parseAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea"));
}

//! RLP encoding (Ethereum yellow paper, appendix B): byte strings, integers and nested lists.
const std = @import("std");
const Allocator = std.mem.Allocator;
const hex = @import("hex");

/// Builds one RLP list. Items are appended in order; `finish` wraps them in the list header.
pub const List = struct {
    gpa: Allocator,
    payload: std.ArrayList(u8) = .empty,

    pub fn init(gpa: Allocator) List {
        return .{ .gpa = gpa };
    }

    pub fn deinit(self: *List) void {
        self.payload.deinit(self.gpa);
    }

    pub fn bytes(self: *List, b: []const u8) !void {
        try appendString(self.gpa, &self.payload, b);
    }

    /// An unsigned integer: minimal big-endian bytes, zero as the empty string.
    pub fn int(self: *List, v: u256) !void {
        var buf: [32]u8 = undefined;
        try self.bytes(hex.minimalBigEndian(&buf, v));
    }

    /// An already-encoded item (e.g. a nested list from another `List.finish`).
    pub fn raw(self: *List, encoded: []const u8) !void {
        try self.payload.appendSlice(self.gpa, encoded);
    }

    /// The encoded list, prefixed with `prefix` (e.g. the EIP-2718 type byte); caller owns it.
    pub fn finish(self: *List, prefix: []const u8) ![]u8 {
        var out: std.ArrayList(u8) = .empty;
        errdefer out.deinit(self.gpa);
        try out.appendSlice(self.gpa, prefix);
        try appendHeader(self.gpa, &out, 0xc0, self.payload.items.len);
        try out.appendSlice(self.gpa, self.payload.items);
        return out.toOwnedSlice(self.gpa);
    }
};

fn appendHeader(gpa: Allocator, out: *std.ArrayList(u8), short_base: u8, len: usize) !void {
    if (len <= 55) {
        try out.append(gpa, short_base + @as(u8, @intCast(len)));
        return;
    }
    var buf: [32]u8 = undefined;
    const len_bytes = hex.minimalBigEndian(&buf, len);
    try out.append(gpa, short_base + 55 + @as(u8, @intCast(len_bytes.len)));
    try out.appendSlice(gpa, len_bytes);
}

pub fn appendString(gpa: Allocator, out: *std.ArrayList(u8), b: []const u8) !void {
    if (b.len == 1 and b[0] < 0x80) {
        try out.append(gpa, b[0]);
        return;
    }
    try appendHeader(gpa, out, 0x80, b.len);
    try out.appendSlice(gpa, b);
}

fn expectList(items: []const []const u8, want_hex: []const u8) !void {
    const a = std.testing.allocator;
    var l = List.init(a);
    defer l.deinit();
    for (items) |it| try l.bytes(it);
    const got = try l.finish("");
    defer a.free(got);
    const want = try hex.decode(a, want_hex);
    defer a.free(want);
    try std.testing.expectEqualSlices(u8, want, got);
}

// Vectors from the Ethereum wiki's RLP page (and pyrlp's test suite).
test "rlp vectors" {
    const a = std.testing.allocator;
    try expectList(&.{ "cat", "dog" }, "0xc88363617483646f67");
    try expectList(&.{}, "0xc0");
    const lorem = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";
    var out: std.ArrayList(u8) = .empty;
    defer out.deinit(a);
    try appendString(a, &out, lorem);
    try std.testing.expectEqual(@as(u8, 0xb8), out.items[0]);
    try std.testing.expectEqual(@as(u8, 56), out.items[1]);
    out.clearRetainingCapacity();
    try appendString(a, &out, "");
    try std.testing.expectEqualSlices(u8, &.{0x80}, out.items);
    out.clearRetainingCapacity();
    try appendString(a, &out, &.{0x0f});
    try std.testing.expectEqualSlices(u8, &.{0x0f}, out.items);
    out.clearRetainingCapacity();
    try appendString(a, &out, &.{0x80});
    try std.testing.expectEqualSlices(u8, &.{ 0x81, 0x80 }, out.items);

    var l = List.init(a);
    defer l.deinit();
    try l.int(0);
    try l.int(15);
    try l.int(1024);
    const got = try l.finish(&.{0x02});
    defer a.free(got);
    try std.testing.expectEqualSlices(u8, &.{ 0x02, 0xc5, 0x80, 0x0f, 0x82, 0x04, 0x00 }, got);

    // set-theoretic representation of three: [ [], [[]], [ [], [[]] ] ]
    var empty = List.init(a);
    defer empty.deinit();
    const e = try empty.finish("");
    defer a.free(e);
    var one = List.init(a);
    defer one.deinit();
    try one.raw(e);
    const o = try one.finish("");
    defer a.free(o);
    var two = List.init(a);
    defer two.deinit();
    try two.raw(e);
    try two.raw(o);
    const t = try two.finish("");
    defer a.free(t);
    var three = List.init(a);
    defer three.deinit();
    try three.raw(e);
    try three.raw(o);
    try three.raw(t);
    const th = try three.finish("");
    defer a.free(th);
    const want = try hex.decode(a, "0xc7c0c1c0c3c0c1c0");
    defer a.free(want);
    try std.testing.expectEqualSlices(u8, want, th);
}

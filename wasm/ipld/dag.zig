//! DAG-CBOR (canonical: map keys sorted by length then bytes, shortest integer heads, links as tag 42 over
//! 0x00 + CID bytes), DAG-JSON output and CIDv1 (dag-cbor, sha2-256, base32) for the values of the tree:
//! std.json values where `{"/": "<cid>"}` is a link and `{"/": {"bytes": "<base64>"}}` is bytes.
//! Floats are refused (items and tree nodes hold strings, integers, booleans, null, lists, maps and links).
const std = @import("std");

pub const Error = error{ Invalid, OutOfMemory };
pub const Value = std.json.Value;

/// The reason of the last `error.Invalid`, in the call arena.
pub const Diag = struct {
    arena: std.mem.Allocator,
    msg: []const u8 = "",

    pub fn fail(self: *Diag, comptime fmt: []const u8, args: anytype) Error {
        self.msg = std.fmt.allocPrint(self.arena, fmt, args) catch "out of memory";
        return error.Invalid;
    }
};

const max_depth = 64;
const b32 = "abcdefghijklmnopqrstuvwxyz234567";

// --- CIDs ----------------------------------------------------------------------------------------------

/// "b" + base32 (RFC 4648, lowercase, no padding) of `bytes`: the multibase form Kubo prints for CIDv1.
pub fn base32(a: std.mem.Allocator, bytes: []const u8) Error![]u8 {
    var out: std.ArrayList(u8) = .empty;
    try out.append(a, 'b');
    var acc: u32 = 0;
    var bits: u5 = 0;
    for (bytes) |byte| {
        acc = (acc << 8) | byte;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            try out.append(a, b32[@intCast((acc >> bits) & 31)]);
        }
    }
    if (bits > 0) try out.append(a, b32[@intCast((acc << (5 - bits)) & 31)]);
    return out.items;
}

/// The binary CID of a "b..." (base32) CIDv1 string.
pub fn cidBytes(diag: *Diag, text: []const u8) Error![]u8 {
    if (text.len < 2 or text[0] != 'b') return diag.fail("link {s} is not a base32 CIDv1 (\"b...\")", .{text});
    var out: std.ArrayList(u8) = .empty;
    var acc: u32 = 0;
    var bits: u5 = 0;
    for (text[1..]) |c| {
        const v: u32 = switch (c) {
            'a'...'z' => c - 'a',
            '2'...'7' => c - '2' + 26,
            else => return diag.fail("link {s} has a character {c} outside base32", .{ text, c }),
        };
        acc = ((acc << 5) | v) & 0xffff;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            try out.append(diag.arena, @intCast((acc >> bits) & 0xff));
        }
    }
    if (out.items.len < 4 or out.items[0] != 0x01) return diag.fail("link {s} is not a CIDv1", .{text});
    return out.items;
}

/// The CIDv1 string (dag-cbor, sha2-256) of a DAG-CBOR block.
pub fn cidOfBlock(a: std.mem.Allocator, block: []const u8) Error![]u8 {
    var raw: [36]u8 = undefined;
    raw[0] = 0x01; // CIDv1
    raw[1] = 0x71; // dag-cbor
    raw[2] = 0x12; // sha2-256
    raw[3] = 0x20; // 32 bytes
    std.crypto.hash.sha2.Sha256.hash(block, raw[4..36], .{});
    return base32(a, &raw);
}

// --- DAG-CBOR ------------------------------------------------------------------------------------------

fn head(a: std.mem.Allocator, out: *std.ArrayList(u8), major: u8, value: u64) Error!void {
    const m = major << 5;
    if (value < 24) {
        try out.append(a, m | @as(u8, @intCast(value)));
    } else if (value <= 0xff) {
        try out.appendSlice(a, &.{ m | 24, @intCast(value) });
    } else if (value <= 0xffff) {
        try out.append(a, m | 25);
        try out.appendSlice(a, &std.mem.toBytes(std.mem.nativeToBig(u16, @intCast(value))));
    } else if (value <= 0xffff_ffff) {
        try out.append(a, m | 26);
        try out.appendSlice(a, &std.mem.toBytes(std.mem.nativeToBig(u32, @intCast(value))));
    } else {
        try out.append(a, m | 27);
        try out.appendSlice(a, &std.mem.toBytes(std.mem.nativeToBig(u64, value)));
    }
}

fn cborKeyLess(_: void, x: []const u8, y: []const u8) bool {
    if (x.len != y.len) return x.len < y.len;
    return std.mem.order(u8, x, y) == .lt;
}

fn jsonKeyLess(_: void, x: []const u8, y: []const u8) bool {
    return std.mem.order(u8, x, y) == .lt;
}

/// A link or bytes value (`{"/": ...}` with no other key), else null.
const Special = union(enum) { link: []const u8, bytes: []const u8 };

fn special(diag: *Diag, obj: std.json.ObjectMap) Error!?Special {
    if (obj.count() != 1) return null;
    const slash = obj.get("/") orelse return null;
    switch (slash) {
        .string => |s| return .{ .link = s },
        .object => |inner| {
            if (inner.count() == 1) if (inner.get("bytes")) |b| if (b == .string) return .{ .bytes = b.string };
            return diag.fail("a {{\"/\": ...}} object must be a link or {{\"/\": {{\"bytes\": ...}}}}", .{});
        },
        else => return diag.fail("a {{\"/\": ...}} object must be a link or {{\"/\": {{\"bytes\": ...}}}}", .{}),
    }
}

fn integer(diag: *Diag, text: []const u8) Error!i128 {
    for (text) |c| if (c == '.' or c == 'e' or c == 'E')
        return diag.fail("number {s} is not an integer (floats are not supported in the tree)", .{text});
    const v = std.fmt.parseInt(i128, text, 10) catch return diag.fail("number {s} is out of range", .{text});
    if (v > std.math.maxInt(u64) or v < -@as(i128, std.math.maxInt(u64)) - 1)
        return diag.fail("integer {s} does not fit 64 bits", .{text});
    return v;
}

fn encInt(a: std.mem.Allocator, out: *std.ArrayList(u8), v: i128) Error!void {
    if (v >= 0) return head(a, out, 0, @intCast(v));
    return head(a, out, 1, @intCast(-1 - v));
}

fn encode(diag: *Diag, out: *std.ArrayList(u8), value: Value, depth: usize) Error!void {
    const a = diag.arena;
    if (depth > max_depth) return diag.fail("value nests deeper than {d}", .{max_depth});
    switch (value) {
        .null => try out.append(a, 0xf6),
        .bool => |b| try out.append(a, if (b) 0xf5 else 0xf4),
        .integer => |i| try encInt(a, out, i),
        .number_string => |s| try encInt(a, out, try integer(diag, s)),
        .float => return diag.fail("floats are not supported in the tree", .{}),
        .string => |s| {
            if (!std.unicode.utf8ValidateSlice(s)) return diag.fail("a string is not UTF-8", .{});
            try head(a, out, 3, s.len);
            try out.appendSlice(a, s);
        },
        .array => |arr| {
            try head(a, out, 4, arr.items.len);
            for (arr.items) |item| try encode(diag, out, item, depth + 1);
        },
        .object => |obj| {
            if (try special(diag, obj)) |sp| switch (sp) {
                .link => |text| {
                    const cid = try cidBytes(diag, text);
                    try out.appendSlice(a, &.{ 0xd8, 42 });
                    try head(a, out, 2, cid.len + 1);
                    try out.append(a, 0);
                    try out.appendSlice(a, cid);
                    return;
                },
                .bytes => |b64| {
                    const dec = std.base64.standard_no_pad.Decoder;
                    const n = dec.calcSizeForSlice(b64) catch return diag.fail("bytes {s} are not base64", .{b64});
                    const buf = try a.alloc(u8, n);
                    dec.decode(buf, b64) catch return diag.fail("bytes {s} are not base64", .{b64});
                    try head(a, out, 2, n);
                    try out.appendSlice(a, buf);
                    return;
                },
            };
            const keys = try a.dupe([]const u8, obj.keys());
            std.mem.sort([]const u8, keys, {}, cborKeyLess);
            try head(a, out, 5, keys.len);
            for (keys) |k| {
                try encode(diag, out, .{ .string = k }, depth + 1);
                try encode(diag, out, obj.get(k).?, depth + 1);
            }
        },
    }
}

/// The canonical DAG-CBOR block of `value`.
pub fn dagCbor(diag: *Diag, value: Value) Error![]u8 {
    var out: std.ArrayList(u8) = .empty;
    try encode(diag, &out, value, 0);
    return out.items;
}

// --- DAG-JSON ------------------------------------------------------------------------------------------

fn jsonString(a: std.mem.Allocator, out: *std.ArrayList(u8), s: []const u8) Error!void {
    try out.append(a, '"');
    for (s) |c| switch (c) {
        '"' => try out.appendSlice(a, "\\\""),
        '\\' => try out.appendSlice(a, "\\\\"),
        '\n' => try out.appendSlice(a, "\\n"),
        '\r' => try out.appendSlice(a, "\\r"),
        '\t' => try out.appendSlice(a, "\\t"),
        0...8, 11, 12, 14...0x1f => {
            const hexd = "0123456789abcdef";
            try out.appendSlice(a, &.{ '\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15] });
        },
        else => try out.append(a, c),
    };
    try out.append(a, '"');
}

fn writeJson(diag: *Diag, out: *std.ArrayList(u8), value: Value, depth: usize) Error!void {
    const a = diag.arena;
    if (depth > max_depth) return diag.fail("value nests deeper than {d}", .{max_depth});
    switch (value) {
        .null => try out.appendSlice(a, "null"),
        .bool => |b| try out.appendSlice(a, if (b) "true" else "false"),
        .integer => |i| try out.appendSlice(a, try std.fmt.allocPrint(a, "{d}", .{i})),
        .number_string => |s| try out.appendSlice(a, try std.fmt.allocPrint(a, "{d}", .{try integer(diag, s)})),
        .float => return diag.fail("floats are not supported in the tree", .{}),
        .string => |s| try jsonString(a, out, s),
        .array => |arr| {
            try out.append(a, '[');
            for (arr.items, 0..) |item, i| {
                if (i > 0) try out.append(a, ',');
                try writeJson(diag, out, item, depth + 1);
            }
            try out.append(a, ']');
        },
        .object => |obj| {
            const keys = try a.dupe([]const u8, obj.keys());
            std.mem.sort([]const u8, keys, {}, jsonKeyLess);
            try out.append(a, '{');
            for (keys, 0..) |k, i| {
                if (i > 0) try out.append(a, ',');
                try jsonString(a, out, k);
                try out.append(a, ':');
                try writeJson(diag, out, obj.get(k).?, depth + 1);
            }
            try out.append(a, '}');
        },
    }
}

/// DAG-JSON text of `value` (keys sorted), what Kubo's `dag/put --input-codec dag-json` reads.
pub fn dagJson(diag: *Diag, value: Value) Error![]u8 {
    var out: std.ArrayList(u8) = .empty;
    try writeJson(diag, &out, value, 0);
    return out.items;
}

/// Parse DAG-JSON text, numbers kept as text.
pub fn parse(diag: *Diag, text: []const u8, what: []const u8) Error!Value {
    return std.json.parseFromSliceLeaky(Value, diag.arena, text, .{ .parse_numbers = false }) catch
        diag.fail("{s} is not JSON: {s}", .{ what, text[0..@min(text.len, 200)] });
}

/// A link value `{"/": cid}`.
pub fn link(a: std.mem.Allocator, cid: []const u8) Error!Value {
    var obj: std.json.ObjectMap = .empty;
    try obj.put(a, "/", .{ .string = cid });
    return .{ .object = obj };
}

/// The CID of a link value, else null.
pub fn linkCid(value: Value) ?[]const u8 {
    if (value != .object or value.object.count() != 1) return null;
    const s = value.object.get("/") orelse return null;
    return if (s == .string) s.string else null;
}

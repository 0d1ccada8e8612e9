//! events: eth_getLogs params for a contract's events from a block cursor, and the item ids of the answer.
//! Pure computation; the caller does the RPC (curl_adapter's eth_rpc).
const std = @import("std");
const marine = @import("marine");
const iface = @import("interface");

const Keccak256 = std.crypto.hash.sha3.Keccak256;
const Invalid = error{ Invalid, OutOfMemory };

var msg: []const u8 = "";

fn fail(comptime fmt: []const u8, args: anytype) Invalid {
    msg = marine.print(fmt, args);
    return error.Invalid;
}

fn result(outcome: Invalid![]const u8) iface.EventsResult {
    if (outcome) |v| return .{ .success = true, .@"error" = "", .value = v } else |e| {
        return .{ .success = false, .@"error" = if (e == error.Invalid) msg else "out of memory", .value = "" };
    }
}

fn hexOf(bytes: []const u8) []const u8 {
    const a = marine.allocator();
    const out = a.alloc(u8, 2 + bytes.len * 2) catch return "";
    out[0] = '0';
    out[1] = 'x';
    const digits = "0123456789abcdef";
    for (bytes, 0..) |b, i| {
        out[2 + i * 2] = digits[b >> 4];
        out[3 + i * 2] = digits[b & 15];
    }
    return out;
}

pub fn topic(signature: []const u8) iface.EventsResult {
    if (std.mem.indexOfScalar(u8, signature, '(') == null or signature[signature.len - 1] != ')')
        return result(fail("event signature {s} must look like Name(type,...)", .{signature}));
    var h: [32]u8 = undefined;
    Keccak256.hash(signature, &h, .{});
    return result(hexOf(&h));
}

fn parseBlock(what: []const u8, text: []const u8) Invalid!u64 {
    const t = std.mem.trim(u8, text, " ");
    if (std.mem.startsWith(u8, t, "0x") or std.mem.startsWith(u8, t, "0X")) {
        return std.fmt.parseInt(u64, t[2..], 16) catch fail("{s} {s} is not a block number", .{ what, text });
    }
    return std.fmt.parseInt(u64, t, 10) catch fail("{s} {s} is not a block number", .{ what, text });
}

fn isWord(text: []const u8, bytes: usize) bool {
    if (text.len != 2 + bytes * 2 or !std.mem.startsWith(u8, text, "0x")) return false;
    for (text[2..]) |c| if (!std.ascii.isHex(c)) return false;
    return true;
}

fn params(address: []const u8, topics: []const []const u8, from_block: []const u8, to_block: []const u8) Invalid![]const u8 {
    if (!isWord(address, 20)) return fail("address {s} is not a 0x-prefixed 20-byte hex address", .{address});
    if (topics.len == 0) return fail("no event topics given", .{});
    const from = try parseBlock("from_block", from_block);
    const to = try parseBlock("to_block", to_block);
    if (from > to) return fail("from_block {d} is after to_block {d}", .{ from, to });
    var list: std.ArrayList(u8) = .empty;
    const a = marine.allocator();
    for (topics, 0..) |t, i| {
        if (!isWord(t, 32)) return fail("topic {s} is not a 0x-prefixed 32-byte hex word", .{t});
        if (i > 0) try list.append(a, ',');
        try list.appendSlice(a, marine.print("\"{s}\"", .{t}));
    }
    return marine.print("[{{\"address\":\"{s}\",\"fromBlock\":\"0x{x}\",\"toBlock\":\"0x{x}\",\"topics\":[[{s}]]}}]", .{
        address, from, to, list.items,
    });
}

pub fn get_logs_params(address: []const u8, topics: []const []const u8, from_block: []const u8, to_block: []const u8) iface.EventsResult {
    return result(params(address, topics, from_block, to_block));
}

pub fn next_block(cursor: []const u8) iface.EventsResult {
    if (cursor.len == 0 or std.mem.eql(u8, cursor, "none")) return result("0");
    const c = parseBlock("cursor", cursor) catch |e| return result(e);
    return result(marine.print("{d}", .{c + 1}));
}

pub fn block_range(cursor: []const u8, head: []const u8, indexed: []const u8) iface.BlockRange {
    const bad: iface.BlockRange = .{ .success = false, .@"error" = "", .from_block = "", .to_block = "", .empty = true };
    var h = parseBlock("head", head) catch return .{ .success = false, .@"error" = msg, .from_block = "", .to_block = "", .empty = true };
    if (indexed.len != 0) {
        const i = parseBlock("indexed", indexed) catch return .{ .success = false, .@"error" = msg, .from_block = "", .to_block = "", .empty = true };
        h = @min(h, i);
    }
    var from: u64 = 0;
    if (cursor.len != 0) {
        const c = parseBlock("cursor", cursor) catch {
            var out = bad;
            out.@"error" = msg;
            return out;
        };
        from = c + 1;
    }
    return .{
        .success = true,
        .@"error" = "",
        .from_block = marine.print("{d}", .{from}),
        .to_block = marine.print("{d}", .{h}),
        .empty = from > h,
    };
}

pub fn to_decimal(quantity: []const u8) iface.EventsResult {
    const q = parseBlock("quantity", quantity) catch |e| return result(e);
    return result(marine.print("{d}", .{q}));
}

const Decoded = struct { ids: std.ArrayList([]const u8) = .empty, last: ?u64 = null };

fn decode(logs_json: []const u8, address: []const u8, topics: []const []const u8) Invalid!Decoded {
    const a = marine.allocator();
    const value = std.json.parseFromSliceLeaky(std.json.Value, a, logs_json, .{ .parse_numbers = false }) catch
        return fail("eth_getLogs result is not JSON: {s}", .{logs_json[0..@min(logs_json.len, 200)]});
    if (value != .array) return fail("eth_getLogs result is not a list of logs", .{});
    var out: Decoded = .{};
    var seen: std.StringHashMapUnmanaged(void) = .empty;
    for (value.array.items, 0..) |log, i| {
        if (log != .object) return fail("log {d} is not an object", .{i});
        const obj = log.object;
        if (obj.get("removed")) |r| if (r == .bool and r.bool) continue;
        const addr = obj.get("address") orelse return fail("log {d} has no address", .{i});
        if (addr != .string or !std.ascii.eqlIgnoreCase(addr.string, address))
            return fail("log {d} is from another address than {s}", .{ i, address });
        const ts = obj.get("topics") orelse return fail("log {d} has no topics", .{i});
        if (ts != .array or ts.array.items.len < 2) return fail("log {d} has no indexed id (topics[1])", .{i});
        for (ts.array.items[0..2]) |t| if (t != .string or !isWord(t.string, 32))
            return fail("log {d} has a topic that is not a 32-byte hex word", .{i});
        const t0 = ts.array.items[0].string;
        var known = false;
        for (topics) |t| known = known or std.ascii.eqlIgnoreCase(t, t0);
        if (!known) return fail("log {d} has an unexpected event topic {s}", .{ i, t0 });
        const id = std.fmt.parseInt(u256, ts.array.items[1].string[2..], 16) catch unreachable;
        const bn = obj.get("blockNumber") orelse return fail("log {d} has no blockNumber", .{i});
        if (bn != .string) return fail("log {d} has a blockNumber that is not a 0x quantity", .{i});
        const block = parseBlock("blockNumber", bn.string) catch return fail("log {d} has a bad blockNumber {s}", .{ i, bn.string });
        out.last = if (out.last) |l| @max(l, block) else block;
        const text = marine.print("{d}", .{id});
        if ((try seen.getOrPut(a, text)).found_existing) continue;
        try out.ids.append(a, text);
    }
    return out;
}

pub fn decode_logs(logs_json: []const u8, address: []const u8, topics: []const []const u8) iface.DecodedLogs {
    if (decode(logs_json, address, topics)) |d| {
        return .{
            .success = true,
            .@"error" = "",
            .ids = d.ids.items,
            .last_block = if (d.last) |l| marine.print("{d}", .{l}) else "",
            .count = @intCast(d.ids.items.len),
        };
    } else |e| {
        return .{ .success = false, .@"error" = if (e == error.Invalid) msg else "out of memory", .ids = &.{}, .last_block = "", .count = 0 };
    }
}

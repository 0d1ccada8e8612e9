//! subgraph_client: one entity from a GraphQL subgraph endpoint, through curl_adapter's http_request.
const std = @import("std");
const marine = @import("marine");
const iface = @import("interface");

const Invalid = error{ Invalid, OutOfMemory };
var msg: []const u8 = "";

fn fail(comptime fmt: []const u8, args: anytype) Invalid {
    msg = marine.print(fmt, args);
    return error.Invalid;
}

fn result(outcome: Invalid![]const u8) iface.SubgraphResult {
    if (outcome) |v| return .{ .success = true, .@"error" = "", .value = v } else |e| {
        return .{ .success = false, .@"error" = if (e == error.Invalid) msg else "out of memory", .value = "" };
    }
}

fn isName(s: []const u8) bool {
    if (s.len == 0 or !(std.ascii.isAlphabetic(s[0]) or s[0] == '_')) return false;
    for (s) |c| if (!(std.ascii.isAlphanumeric(c) or c == '_')) return false;
    return true;
}

fn body(entity: []const u8, id: []const u8, fields: []const u8) Invalid![]const u8 {
    if (!isName(entity)) return fail("entity {s} is not a GraphQL field name", .{entity});
    if (id.len == 0) return fail("empty id for {s}", .{entity});
    if (std.mem.trim(u8, fields, " \n").len == 0) return fail("no fields to select for {s}", .{entity});
    for (fields) |c| if (!(std.ascii.isAlphanumeric(c) or c == '_' or c == ' ' or c == '\n' or c == '{' or c == '}' or c == ','))
        return fail("fields {s} may hold only names, spaces, commas and braces", .{fields});
    const query = marine.print("query($id: ID!) {{ {s}(id: $id) {{ {s} }} }}", .{ entity, fields });
    return marine.print("{{\"query\":{f},\"variables\":{{\"id\":{f}}}}}", .{ std.json.fmt(query, .{}), std.json.fmt(id, .{}) });
}

pub fn query_body(entity: []const u8, id: []const u8, fields: []const u8) iface.SubgraphResult {
    return result(body(entity, id, fields));
}

fn extractEntity(entity: []const u8, id: []const u8, response: []const u8) Invalid![]const u8 {
    const a = marine.allocator();
    const snippet = response[0..@min(response.len, 300)];
    const value = std.json.parseFromSliceLeaky(std.json.Value, a, response, .{ .parse_numbers = false }) catch
        return fail("subgraph answer is not JSON: {s}", .{snippet});
    if (value != .object) return fail("subgraph answer is not a GraphQL response: {s}", .{snippet});
    if (value.object.get("errors")) |errs| if (errs != .null) {
        return fail("subgraph answered errors for {s} {s}: {f}", .{ entity, id, std.json.fmt(errs, .{}) });
    };
    const data = value.object.get("data") orelse return fail("subgraph answer has no data: {s}", .{snippet});
    if (data != .object) return fail("subgraph answer has no data: {s}", .{snippet});
    const got = data.object.get(entity) orelse return fail("subgraph answer has no {s}: {s}", .{ entity, snippet });
    if (got == .null) return fail("subgraph has no {s} {s}", .{ entity, id });
    if (got != .object) return fail("subgraph's {s} {s} is not an object", .{ entity, id });
    return marine.print("{f}", .{std.json.fmt(got, .{})});
}

pub fn extract(entity: []const u8, id: []const u8, response: []const u8) iface.SubgraphResult {
    return result(extractEntity(entity, id, response));
}

fn post(url: []const u8, request: []const u8, timeout_sec: u32, what: []const u8) Invalid![]const u8 {
    const seconds: u32 = @min(@max(timeout_sec, 1), 3600);
    const r = iface.curl_adapter.http_request("POST", url, &.{"Content-Type: application/json"}, request, seconds * 1000);
    if (!r.success) {
        const out = std.mem.trim(u8, r.body, " \r\n");
        return fail("subgraph request for {s} failed: {s}{s}{s}", .{
            what, r.@"error", if (out.len > 0) ": " else "", out[0..@min(out.len, 300)],
        });
    }
    return r.body;
}

fn indexed(url: []const u8, timeout_sec: u32) Invalid![]const u8 {
    const response = try post(url, "{\"query\":\"{ _meta { block { number } } }\"}", timeout_sec, "_meta");
    const a = marine.allocator();
    const snippet = response[0..@min(response.len, 300)];
    const value = std.json.parseFromSliceLeaky(std.json.Value, a, response, .{ .parse_numbers = false }) catch
        return fail("subgraph _meta answer is not JSON: {s}", .{snippet});
    const number = blk: {
        if (value != .object) break :blk null;
        if (value.object.get("errors")) |e| if (e != .null) return fail("subgraph answered errors for _meta: {f}", .{std.json.fmt(e, .{})});
        const data = value.object.get("data") orelse break :blk null;
        if (data != .object) break :blk null;
        const meta = data.object.get("_meta") orelse break :blk null;
        if (meta != .object) break :blk null;
        const block = meta.object.get("block") orelse break :blk null;
        if (block != .object) break :blk null;
        break :blk block.object.get("number");
    } orelse return fail("subgraph _meta answer has no block number: {s}", .{snippet});
    return switch (number) {
        .number_string => |t| t,
        .integer => |i| marine.print("{d}", .{i}),
        else => fail("subgraph _meta block number is not a number: {s}", .{snippet}),
    };
}

pub fn indexed_block(url: []const u8, timeout_sec: u32) iface.SubgraphResult {
    return result(indexed(url, timeout_sec));
}

fn fetchEntity(url: []const u8, entity: []const u8, id: []const u8, fields: []const u8, timeout_sec: u32) Invalid![]const u8 {
    const request = try body(entity, id, fields);
    return extractEntity(entity, id, try post(url, request, timeout_sec, marine.print("{s} {s}", .{ entity, id })));
}

pub fn fetch(url: []const u8, entity: []const u8, id: []const u8, fields: []const u8, timeout_sec: u32) iface.SubgraphResult {
    return result(fetchEntity(url, entity, id, fields, timeout_sec));
}

//! ipld: the aggregation tree (see interface.toml for the layout). Blocks go through the Kubo RPC API with
//! curl_adapter's http_request; an update re-encodes and writes only the nodes on changed paths.
const std = @import("std");
const marine = @import("marine");
const iface = @import("interface");
const dag = @import("dag.zig");

const Diag = dag.Diag;
const Value = dag.Value;
const Error = dag.Error;

fn newDiag() Diag {
    return .{ .arena = marine.allocator() };
}

fn ipldResult(diag: *const Diag, outcome: Error![]const u8) iface.IpldResult {
    if (outcome) |v| return .{ .success = true, .@"error" = "", .value = v } else |e| {
        return .{ .success = false, .@"error" = message(diag, e), .value = "" };
    }
}

fn message(diag: *const Diag, e: Error) []const u8 {
    return switch (e) {
        error.Invalid => diag.msg,
        error.OutOfMemory => "out of memory",
    };
}

fn hexOf(a: std.mem.Allocator, bytes: []const u8) Error![]u8 {
    const out = try a.alloc(u8, bytes.len * 2);
    const digits = "0123456789abcdef";
    for (bytes, 0..) |b, i| {
        out[i * 2] = digits[b >> 4];
        out[i * 2 + 1] = digits[b & 15];
    }
    return out;
}

fn cborHex(diag: *Diag, text: []const u8) Error![]const u8 {
    return hexOf(diag.arena, try dag.dagCbor(diag, try dag.parse(diag, text, "dag_json")));
}

fn cidText(diag: *Diag, text: []const u8) Error![]const u8 {
    return dag.cidOfBlock(diag.arena, try dag.dagCbor(diag, try dag.parse(diag, text, "dag_json")));
}

pub fn dag_cbor(dag_json: []const u8) iface.IpldResult {
    var diag = newDiag();
    return ipldResult(&diag, cborHex(&diag, dag_json));
}

pub fn cid_of(dag_json: []const u8) iface.IpldResult {
    var diag = newDiag();
    return ipldResult(&diag, cidText(&diag, dag_json));
}

// --- Kubo RPC through curl_adapter ---------------------------------------------------------------------

const boundary = "fluence-dao-ipld-7d3f9a";
/// curl_adapter's limit of a request body (its curl arguments must fit Linux's ARG_MAX).
const max_body_bytes = 1536 * 1024;
const timeout_ms: u32 = 30_000;

fn post(diag: *Diag, step: []const u8, url: []const u8, headers: []const []const u8, body: []const u8) Error![]const u8 {
    const r = iface.curl_adapter.http_request("POST", url, headers, body, timeout_ms);
    if (!r.success) {
        const text = std.mem.trim(u8, r.body, " \r\n");
        return diag.fail("IPFS {s}: {s}{s}{s}", .{
            step, r.@"error", if (text.len > 0) ": " else "", text[0..@min(text.len, 300)],
        });
    }
    return r.body;
}

fn apiBase(diag: *Diag, api_url: []const u8) Error![]const u8 {
    const base = std.mem.trimEnd(u8, api_url, "/");
    if (!std.mem.startsWith(u8, base, "http://") and !std.mem.startsWith(u8, base, "https://"))
        return diag.fail("api_url must be an http(s) URL of a Kubo RPC API, got {s}", .{api_url});
    return base;
}

fn urlSafe(diag: *Diag, what: []const u8, s: []const u8) Error!void {
    for (s) |c| if (!(std.ascii.isAlphanumeric(c) or c == '/' or c == '-' or c == '_' or c == '.'))
        return diag.fail("{s} {s} has a character {c} not allowed in a path", .{ what, s, c });
}

fn dagGet(diag: *Diag, base: []const u8, cid: []const u8) Error!Value {
    try urlSafe(diag, "CID", cid);
    const url = marine.print("{s}/api/v0/dag/get?arg={s}&output-codec=dag-json", .{ base, cid });
    const step = marine.print("dag/get {s}", .{cid});
    return dag.parse(diag, try post(diag, step, url, &.{}, ""), step);
}

/// dag/put the DAG-JSON of `value` as dag-cbor; checks Kubo's CID against ours; returns it.
fn dagPut(diag: *Diag, base: []const u8, value: Value, pin: bool) Error![]const u8 {
    const a = diag.arena;
    const expected = try dag.cidOfBlock(a, try dag.dagCbor(diag, value));
    const json = try dag.dagJson(diag, value);
    const body = marine.print("--{s}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"node.json\"\r\n" ++
        "Content-Type: application/octet-stream\r\n\r\n{s}\r\n--{s}--\r\n", .{ boundary, json, boundary });
    // curl_adapter sends a large body in pieces below Linux's 128 KiB per exec argument; all of them together
    // must stay below ARG_MAX (2 MiB here).
    if (body.len > max_body_bytes)
        return diag.fail("IPFS dag/put {s}: the node's DAG-JSON is {d} bytes, above the {d}-byte limit of curl's arguments (too many items under one protocol)", .{ expected, json.len, max_body_bytes });
    const url = marine.print("{s}/api/v0/dag/put?store-codec=dag-cbor&input-codec=dag-json&pin={}", .{ base, pin });
    const headers = [_][]const u8{
        marine.print("Content-Type: multipart/form-data; boundary={s}", .{boundary}),
        "Accept: application/json",
    };
    const step = marine.print("dag/put {s}", .{expected});
    const answer = try dag.parse(diag, try post(diag, step, url, &headers, body), step);
    const got: ?[]const u8 = if (answer == .object) if (answer.object.get("Cid")) |c| dag.linkCid(c) else null else null;
    const cid = got orelse return diag.fail("IPFS {s}: the answer has no Cid", .{step});
    if (!std.mem.eql(u8, cid, expected))
        return diag.fail("IPFS {s}: the node stored the block as {s}, not {s}", .{ step, cid, expected });
    return cid;
}

// --- the tree ------------------------------------------------------------------------------------------

/// The map under `field` of a tree node (a new empty one when absent).
fn childMap(diag: *Diag, node: *Value, field: []const u8, where: []const u8) Error!*std.json.ObjectMap {
    if (node.* != .object) return diag.fail("tree node {s} is not a map", .{where});
    const entry = try node.object.getOrPut(diag.arena, field);
    if (!entry.found_existing) entry.value_ptr.* = .{ .object = .empty };
    if (entry.value_ptr.* != .object) return diag.fail("tree node {s}: {s} is not a map", .{ where, field });
    return &entry.value_ptr.object;
}

fn emptyNode(a: std.mem.Allocator, field: []const u8) Error!Value {
    var obj: std.json.ObjectMap = .empty;
    try obj.put(a, field, .{ .object = .empty });
    return .{ .object = obj };
}

/// The child node linked under `name` in `map`, or a new node with an empty `field` map.
fn child(diag: *Diag, base: []const u8, map: *std.json.ObjectMap, name: []const u8, field: []const u8) Error!Value {
    const existing = map.get(name) orelse return emptyNode(diag.arena, field);
    const cid = dag.linkCid(existing) orelse return diag.fail("tree entry {s} is not a link", .{name});
    return dagGet(diag, base, cid);
}

const Update = struct {
    root: []const u8,
    changed: std.ArrayList([]const u8) = .empty,
    written: std.ArrayList([]const u8) = .empty,
};

fn doUpdate(diag: *Diag, api_url: []const u8, root: []const u8, template: []const u8, protocol: []const u8, items: []const iface.Item) Error!Update {
    const a = diag.arena;
    const base = try apiBase(diag, api_url);
    if (template.len == 0 or protocol.len == 0) return diag.fail("template and protocol must not be empty", .{});
    var out: Update = .{ .root = root };
    var root_node = if (root.len == 0) try emptyNode(a, "templates") else try dagGet(diag, base, root);
    const templates = try childMap(diag, &root_node, "templates", "root");
    var template_node = try child(diag, base, templates, template, "protocols");
    const protocols = try childMap(diag, &template_node, "protocols", template);
    var protocol_node = try child(diag, base, protocols, protocol, "items");
    const item_links = try childMap(diag, &protocol_node, "items", protocol);

    for (items) |item| {
        if (item.id.len == 0) return diag.fail("an item has an empty id", .{});
        const what = marine.print("item {s}", .{item.id});
        const value = try dag.parse(diag, item.content, what);
        if (value != .object) return diag.fail("item {s} is not a JSON object", .{item.id});
        const cid = dag.cidOfBlock(a, dag.dagCbor(diag, value) catch |e| {
            if (e == error.Invalid) return diag.fail("item {s}: {s}", .{ item.id, diag.msg });
            return e;
        }) catch |e| return e;
        if (item_links.get(item.id)) |old| if (dag.linkCid(old)) |old_cid| if (std.mem.eql(u8, old_cid, cid)) continue;
        const put = try dagPut(diag, base, value, false);
        try item_links.put(a, item.id, try dag.link(a, put));
        try out.changed.append(a, item.id);
        try out.written.append(a, put);
    }
    if (out.changed.items.len == 0) return out;
    const protocol_cid = try dagPut(diag, base, protocol_node, false);
    try protocols.put(a, protocol, try dag.link(a, protocol_cid));
    const template_cid = try dagPut(diag, base, template_node, false);
    try templates.put(a, template, try dag.link(a, template_cid));
    out.root = try dagPut(diag, base, root_node, true); // pinned (recursively): every root stays resolvable
    try out.written.appendSlice(a, &.{ protocol_cid, template_cid, out.root });
    return out;
}

pub fn update(api_url: []const u8, root: []const u8, template: []const u8, protocol: []const u8, items: []const iface.Item) iface.UpdateResult {
    var diag = newDiag();
    if (doUpdate(&diag, api_url, root, template, protocol, items)) |u| {
        return .{ .success = true, .@"error" = "", .root = u.root, .changed = u.changed.items, .written = u.written.items };
    } else |e| {
        marine.log.debug("update refused: {s}", .{message(&diag, e)});
        return .{ .success = false, .@"error" = message(&diag, e), .root = "", .changed = &.{}, .written = &.{} };
    }
}

fn doGet(diag: *Diag, api_url: []const u8, cid: []const u8, path: []const u8) Error![]const u8 {
    const base = try apiBase(diag, api_url);
    var node = try dagGet(diag, base, cid);
    var it = std.mem.tokenizeScalar(u8, path, '/');
    while (it.next()) |segment| {
        if (dag.linkCid(node)) |next| node = try dagGet(diag, base, next);
        node = switch (node) {
            .object => |obj| obj.get(segment) orelse return diag.fail("path {s}: no {s} under {s}", .{ path, segment, cid }),
            .array => |arr| blk: {
                const i = std.fmt.parseInt(usize, segment, 10) catch return diag.fail("path {s}: {s} is not an index", .{ path, segment });
                if (i >= arr.items.len) return diag.fail("path {s}: index {s} out of range", .{ path, segment });
                break :blk arr.items[i];
            },
            else => return diag.fail("path {s}: {s} is under a scalar", .{ path, segment }),
        };
    }
    if (dag.linkCid(node)) |next| node = try dagGet(diag, base, next);
    return dag.dagJson(diag, node);
}

pub fn get(api_url: []const u8, cid: []const u8, path: []const u8) iface.IpldResult {
    var diag = newDiag();
    return ipldResult(&diag, doGet(&diag, api_url, cid, path));
}

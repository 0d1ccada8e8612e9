//! curl_adapter: HTTP(S) requests (`http_request`) and JSON-RPC (`eth_rpc`) through the host's mounted `curl`,
//! always in the one canonical argument form described in interface.toml; never raw curl arguments.
const std = @import("std");
const marine = @import("marine");
const iface = @import("interface");

/// Below Linux's 128 KiB limit of one exec argument (MAX_ARG_STRLEN).
const piece_bytes = 96 * 1024;
/// All arguments together stay below ARG_MAX (2 MiB here).
const max_body_bytes = 1536 * 1024;
const max_headers = 64;
const default_timeout_ms: u32 = 30_000;
const rpc_timeout_ms: u32 = 60_000;
const methods = [_][]const u8{ "GET", "POST", "PUT", "PATCH", "DELETE" };

const Refused = error{Refused};
var refusal: []const u8 = "";

fn refuse(comptime fmt: []const u8, args: anytype) Refused {
    refusal = marine.print(fmt, args);
    return error.Refused;
}

fn failed(message: []const u8) iface.HttpResponse {
    return .{ .success = false, .@"error" = message, .status = 0, .ret_code = 0, .body = "" };
}

fn checkMethod(method: []const u8) Refused!void {
    for (methods) |m| if (std.mem.eql(u8, m, method)) return;
    return refuse("method {s} is not one of GET, POST, PUT, PATCH, DELETE", .{method});
}

fn checkUrl(url: []const u8) Refused!void {
    if (!std.ascii.startsWithIgnoreCase(url, "http://") and !std.ascii.startsWithIgnoreCase(url, "https://"))
        return refuse("url must be an http:// or https:// URL, got {s}", .{url});
    for (url) |c| if (c <= ' ' or c == 0x7f)
        return refuse("url {f} holds a space or control character", .{std.json.fmt(url, .{})});
}

fn isTokenChar(c: u8) bool {
    return std.ascii.isAlphanumeric(c) or std.mem.indexOfScalar(u8, "!#$%&'*+-.^_`|~", c) != null;
}

fn checkHeader(header: []const u8) Refused!void {
    const colon = std.mem.indexOfScalar(u8, header, ':') orelse
        return refuse("header {f} is not \"Name: value\"", .{std.json.fmt(header, .{})});
    const name = header[0..colon];
    if (name.len == 0) return refuse("header {f} has no name", .{std.json.fmt(header, .{})});
    for (name) |c| if (!isTokenChar(c))
        return refuse("header name {f} may hold only letters, digits and !#$%&'*+-.^_`|~", .{std.json.fmt(name, .{})});
    const value = std.mem.trim(u8, header[colon + 1 ..], " \t");
    if (value.len == 0) return refuse("header {s} has an empty value", .{name});
    for (value) |c| if (c == '\r' or c == '\n' or c == 0)
        return refuse("header {s} holds a line break or NUL", .{name});
}

/// The canonical curl arguments of a checked request.
fn curlArgs(method: []const u8, url: []const u8, headers: []const []const u8, body: []const u8, timeout_ms: u32) Refused![]const []const u8 {
    try checkMethod(method);
    try checkUrl(url);
    if (headers.len > max_headers) return refuse("{d} headers, at most {d} allowed", .{ headers.len, max_headers });
    for (headers) |h| try checkHeader(h);
    if (body.len > max_body_bytes)
        return refuse("the body is {d} bytes, above the {d}-byte limit of curl's arguments", .{ body.len, max_body_bytes });
    if (body.len > 0 and body[0] == '@') return refuse("a body may not start with \"@\" (curl would read a file)", .{});
    if (!std.unicode.utf8ValidateSlice(body)) return refuse("the body is not UTF-8 text", .{});
    const a = marine.allocator();
    const ms = if (timeout_ms == 0) default_timeout_ms else timeout_ms;
    var args: std.ArrayList([]const u8) = .empty;
    args.appendSlice(a, &.{
        "--silent",    "--show-error", "--fail-with-body", "--globoff",
        "--proto",     "=http,https",  "--max-time",       marine.print("{d}.{d:0>3}", .{ ms / 1000, ms % 1000 }),
        "--write-out", "%{http_code}", "--request",        method,
    }) catch return refuse("out of memory", .{});
    for (headers) |h| args.appendSlice(a, &.{ "--header", h }) catch return refuse("out of memory", .{});
    var rest: []const u8 = body;
    while (rest.len > 0) {
        var n = @min(rest.len, piece_bytes);
        // the next piece must not start with "@" nor in the middle of a UTF-8 character
        while (n > 1 and n < rest.len and ((rest[n] & 0xc0) == 0x80 or rest[n] == '@')) n -= 1;
        args.appendSlice(a, &.{ "--json", rest[0..n] }) catch return refuse("out of memory", .{});
        rest = rest[n..];
    }
    args.appendSlice(a, &.{ "--url", url }) catch return refuse("out of memory", .{});
    return args.items;
}

/// The HTTP status from the `--write-out %{http_code}` suffix (three digits; "000" without a response).
fn splitStatus(stdout: []const u8) struct { status: u32, body: []const u8 } {
    if (stdout.len >= 3) {
        const tail = stdout[stdout.len - 3 ..];
        if (std.ascii.isDigit(tail[0]) and std.ascii.isDigit(tail[1]) and std.ascii.isDigit(tail[2]))
            return .{ .status = std.fmt.parseInt(u32, tail, 10) catch 0, .body = stdout[0 .. stdout.len - 3] };
    }
    return .{ .status = 0, .body = stdout };
}

fn send(method: []const u8, url: []const u8, headers: []const []const u8, body: []const u8, timeout_ms: u32) iface.HttpResponse {
    const args = curlArgs(method, url, headers, body, timeout_ms) catch return failed(refusal);
    const r = iface.host.curl(args);
    const got = splitStatus(r.stdout);
    var out: iface.HttpResponse = .{ .success = false, .@"error" = "", .status = got.status, .ret_code = r.ret_code, .body = got.body };
    if (!std.unicode.utf8ValidateSlice(got.body)) {
        out.body = "";
        out.@"error" = marine.print("the response body ({d} bytes, status {d}) is not UTF-8 text", .{ got.body.len, got.status });
        return out;
    }
    if (r.ret_code != 0) {
        out.@"error" = marine.print("curl exited with {d}{s}: {s}{s}", .{
            r.ret_code,                            if (r.ret_code == 28) " (timeout)" else "",
            std.mem.trim(u8, r.@"error", " \r\n"), std.mem.trim(u8, r.stderr, " \r\n"),
        });
        return out;
    }
    if (got.status == 0 or got.status >= 400) {
        out.@"error" = marine.print("no HTTP status from {s} (curl wrote {d} bytes)", .{ url, r.stdout.len });
        if (got.status >= 400) out.@"error" = marine.print("HTTP status {d} from {s}", .{ got.status, url });
        return out;
    }
    out.success = true;
    return out;
}

pub fn http_request(method: []const u8, url: []const u8, headers: []const []const u8, body: []const u8, timeout_ms: u32) iface.HttpResponse {
    return send(method, url, headers, body, timeout_ms);
}

var next_id: u64 = 1;

pub fn eth_rpc(url: []const u8, method: []const u8, params_json: []const u8) iface.JsonRpcResult {
    const id = next_id;
    next_id +%= 1;
    var out: iface.JsonRpcResult = .{ .jsonrpc = "", .result = "", .@"error" = "", .id = id };
    const params = std.mem.trim(u8, params_json, " \t\r\n");
    const params_ok = params.len == 0 or ((params[0] == '[' or params[0] == '{') and
        (std.json.validate(marine.allocator(), params) catch false));
    if (!params_ok) {
        out.@"error" = marine.print("params_json must be a JSON array or object, got {s}", .{params_json});
        return out;
    }
    const body = marine.print("{{\"jsonrpc\":\"2.0\",\"id\":{d},\"method\":{f},\"params\":{s}}}", .{
        id, std.json.fmt(method, .{}), if (params.len == 0) "[]" else params,
    });
    const response = send("POST", url, &.{"Content-Type: application/json"}, body, rpc_timeout_ms);
    if (!response.success) {
        const text = std.mem.trim(u8, response.body, " \r\n");
        out.@"error" = if (text.len == 0) response.@"error" else marine.print("{s}: {s}", .{ response.@"error", text[0..@min(text.len, 300)] });
        return out;
    }
    parseResponse(response.body, &out);
    return out;
}

fn parseResponse(text: []const u8, out: *iface.JsonRpcResult) void {
    const a = marine.allocator();
    const value = std.json.parseFromSliceLeaky(std.json.Value, a, text, .{ .parse_numbers = false }) catch {
        out.@"error" = marine.print("response is not JSON: {s}", .{text[0..@min(text.len, 200)]});
        return;
    };
    if (value != .object) {
        out.@"error" = marine.print("response is not a JSON-RPC object: {s}", .{text[0..@min(text.len, 200)]});
        return;
    }
    const obj = value.object;
    if (obj.get("jsonrpc")) |v| if (v == .string) {
        out.jsonrpc = v.string;
    };
    if (obj.get("id")) |v| {
        const matches = switch (v) {
            .number_string => |s| (std.fmt.parseInt(u64, s, 10) catch 0) == out.id,
            .integer => |i| i >= 0 and @as(u64, @intCast(i)) == out.id,
            else => false,
        };
        if (!matches) {
            out.@"error" = marine.print("response id {f} does not match request id {d}", .{ std.json.fmt(v, .{}), out.id });
            return;
        }
    }
    if (obj.get("error")) |e| if (e != .null) {
        out.@"error" = marine.print("{f}", .{std.json.fmt(e, .{})});
        return;
    };
    const result = obj.get("result") orelse {
        out.@"error" = "response has neither result nor error";
        return;
    };
    out.result = switch (result) {
        .string => |s| s,
        else => marine.print("{f}", .{std.json.fmt(result, .{})}),
    };
}

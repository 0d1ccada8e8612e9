//! curl_adapter: the host's mounted `curl` binary, raw (`curl_request`) and as a JSON-RPC client (`eth_rpc`).
const std = @import("std");
const marine = @import("marine");
const iface = @import("interface");

pub fn curl_request(curl_cmd: []const []const u8) iface.MountedBinaryResult {
    return iface.host.curl(curl_cmd);
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
    const args = [_][]const u8{
        "--silent",   "--show-error",                   "--proto",    "=http,https",
        "--max-time", "60",                             "--request",  "POST",
        "--header",   "Content-Type: application/json", "--data-raw", body,
        "--url",      url,
    };
    const response = iface.host.curl(&args);
    if (response.ret_code != 0) {
        out.@"error" = marine.print("curl exited with {d}: {s}{s}", .{
            response.ret_code, response.@"error", std.mem.trim(u8, response.stderr, " \r\n"),
        });
        return out;
    }
    parseResponse(response.stdout, &out);
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

//! The ens service module: Marine ABI entry points over ens.zig. Pure computation, no I/O.
const std = @import("std");
const marine = @import("marine");
const iface = @import("interface");
const ens = @import("ens.zig");
const hex = @import("hex");

const Diag = ens.Diag;

fn newDiag() Diag {
    return .{ .arena = marine.allocator() };
}

fn result(function: []const u8, diag: *const Diag, outcome: ens.Error![]const u8) iface.EnsResult {
    if (outcome) |v| {
        return .{ .success = true, .@"error" = "", .value = v };
    } else |e| {
        const msg = switch (e) {
            error.Invalid => diag.msg,
            error.OutOfMemory => "out of memory",
        };
        marine.log.debug("{s} refused: {s}", .{ function, msg });
        return .{ .success = false, .@"error" = msg, .value = "" };
    }
}

fn hash32(diag: *Diag, h: ens.Error![32]u8) ens.Error![]const u8 {
    const v = try h;
    return hex.encode(diag.arena, &v);
}

pub fn namehash(name: []const u8) iface.EnsResult {
    var diag = newDiag();
    return result("namehash", &diag, hash32(&diag, ens.namehash(&diag, name)));
}

pub fn labelhash(label: []const u8) iface.EnsResult {
    var diag = newDiag();
    return result("labelhash", &diag, hash32(&diag, ens.labelhash(&diag, label)));
}

fn call(diag: *Diag, signature: []const u8, args: []const ens.Arg) ens.Error![]const u8 {
    for (args) |arg| switch (arg) {
        .string => |s| {
            try ens.checkLen(diag, "argument", s);
            if (!std.unicode.utf8ValidateSlice(s)) return diag.fail("string arguments must be valid UTF-8", .{});
        },
        else => {},
    };
    return ens.encodeCall(diag.arena, signature, args);
}

fn nodeCall(diag: *Diag, signature: []const u8, node: []const u8) ens.Error![]const u8 {
    return call(diag, signature, &.{.{ .bytes32 = try ens.parseBytes32(diag, "node", node) }});
}

fn nodeAddressCall(diag: *Diag, signature: []const u8, node: []const u8, what: []const u8, addr: []const u8) ens.Error![]const u8 {
    const n = try ens.parseBytes32(diag, "node", node);
    const a = try ens.parseAddress(diag, what, addr);
    return call(diag, signature, &.{ .{ .bytes32 = n }, .{ .address = a } });
}

pub fn text_call_data(node: []const u8, key: []const u8) iface.EnsResult {
    var diag = newDiag();
    const outcome = if (ens.parseBytes32(&diag, "node", node)) |n|
        call(&diag, "text(bytes32,string)", &.{ .{ .bytes32 = n }, .{ .string = key } })
    else |e|
        e;
    return result("text_call_data", &diag, outcome);
}

pub fn decode_text_result(data: []const u8) iface.EnsResult {
    var diag = newDiag();
    return result("decode_text_result", &diag, ens.decodeString(&diag, data));
}

pub fn set_text_call_data(node: []const u8, key: []const u8, value: []const u8) iface.EnsResult {
    var diag = newDiag();
    const outcome = if (ens.parseBytes32(&diag, "node", node)) |n|
        call(&diag, "setText(bytes32,string,string)", &.{ .{ .bytes32 = n }, .{ .string = key }, .{ .string = value } })
    else |e|
        e;
    return result("set_text_call_data", &diag, outcome);
}

pub fn addr_call_data(node: []const u8) iface.EnsResult {
    var diag = newDiag();
    return result("addr_call_data", &diag, nodeCall(&diag, "addr(bytes32)", node));
}

pub fn set_addr_call_data(node: []const u8, addr: []const u8) iface.EnsResult {
    var diag = newDiag();
    return result("set_addr_call_data", &diag, nodeAddressCall(&diag, "setAddr(bytes32,address)", node, "addr", addr));
}

pub fn owner_call_data(node: []const u8) iface.EnsResult {
    var diag = newDiag();
    return result("owner_call_data", &diag, nodeCall(&diag, "owner(bytes32)", node));
}

pub fn resolver_call_data(node: []const u8) iface.EnsResult {
    var diag = newDiag();
    return result("resolver_call_data", &diag, nodeCall(&diag, "resolver(bytes32)", node));
}

pub fn set_owner_call_data(node: []const u8, owner: []const u8) iface.EnsResult {
    var diag = newDiag();
    return result("set_owner_call_data", &diag, nodeAddressCall(&diag, "setOwner(bytes32,address)", node, "owner", owner));
}

fn subnodeOwner(diag: *Diag, node: []const u8, label_hash: []const u8, owner: []const u8) ens.Error![]const u8 {
    const n = try ens.parseBytes32(diag, "node", node);
    const l = try ens.parseBytes32(diag, "label_hash", label_hash);
    const o = try ens.parseAddress(diag, "owner", owner);
    return call(diag, "setSubnodeOwner(bytes32,bytes32,address)", &.{ .{ .bytes32 = n }, .{ .bytes32 = l }, .{ .address = o } });
}

pub fn set_subnode_owner_call_data(node: []const u8, label_hash: []const u8, owner: []const u8) iface.EnsResult {
    var diag = newDiag();
    return result("set_subnode_owner_call_data", &diag, subnodeOwner(&diag, node, label_hash, owner));
}

fn addressText(diag: *Diag, data: []const u8) ens.Error![]const u8 {
    const a = try ens.decodeAddress(diag, data);
    return diag.arena.dupe(u8, &a);
}

pub fn decode_address_result(data: []const u8) iface.EnsResult {
    var diag = newDiag();
    return result("decode_address_result", &diag, addressText(&diag, data));
}

pub fn prepare_set_text(
    name: []const u8,
    key: []const u8,
    value: []const u8,
    resolver: []const u8,
    nonce: []const u8,
    gas: []const u8,
    max_fee_per_gas: []const u8,
    max_priority_fee_per_gas: []const u8,
) iface.EnsResult {
    var diag = newDiag();
    return result("prepare_set_text", &diag, ens.prepareSetText(&diag, .{
        .name = name,
        .key = key,
        .value = value,
        .resolver = resolver,
        .nonce = nonce,
        .gas = gas,
        .max_fee_per_gas = max_fee_per_gas,
        .max_priority_fee_per_gas = max_priority_fee_per_gas,
    }));
}

//! Transaction requests (JSON) -> signed raw transactions; EIP-191 personal messages.
//!
//! Supported: legacy transactions with EIP-155 replay protection (type 0) and EIP-1559 transactions (type 2).
//! Numbers may be JSON numbers or strings in decimal or 0x-hex; `to` may be absent, null or "" (contract creation).
const std = @import("std");
const Allocator = std.mem.Allocator;
const hex = @import("hex");
const rlp = @import("rlp.zig");
const ecdsa = @import("ecdsa.zig");

pub const Error = error{ Invalid, OutOfMemory };

/// Largest accepted tx_json / message in bytes (a contract creation with 48 KiB init code is ~100 KB of JSON).
pub const max_input_len: usize = 1 << 20;

/// Holds the message of the last `error.Invalid`.
pub const Diag = struct {
    arena: Allocator,
    msg: []const u8 = "",

    pub fn fail(self: *Diag, comptime fmt: []const u8, args: anytype) Error {
        self.msg = std.fmt.allocPrint(self.arena, fmt, args) catch return error.OutOfMemory;
        return error.Invalid;
    }
};

const TxType = enum(u8) { legacy = 0, eip1559 = 2 };

const legacy_fields = [_][]const u8{ "type", "chainId", "from", "nonce", "gasPrice", "gas", "to", "value", "data" };
const eip1559_fields = [_][]const u8{
    "type",       "chainId", "from", "nonce", "maxFeePerGas", "maxPriorityFeePerGas", "gas", "to", "value", "data",
    "accessList",
};

fn valueKind(v: std.json.Value) []const u8 {
    return switch (v) {
        .null => "null",
        .bool => "a boolean",
        .integer, .float, .number_string => "a number",
        .string => "a string",
        .array => "an array",
        .object => "an object",
    };
}

/// A non-negative integer field: a JSON number, or a string in decimal or 0x-hex.
fn quantity(comptime T: type, diag: *Diag, name: []const u8, v: std.json.Value) Error!T {
    const text = switch (v) {
        .number_string, .string => |s| s,
        else => return diag.fail("field '{s}' must be a non-negative integer (JSON number, decimal or 0x-hex string), got {s}", .{ name, valueKind(v) }),
    };
    return hex.parseQuantity(T, text) catch |e| switch (e) {
        error.InvalidNumber => diag.fail("field '{s}' must be a non-negative integer (JSON number, decimal or 0x-hex string), got '{s}'", .{ name, truncate(text) }),
        error.NumberTooLarge => diag.fail("field '{s}' is too large for {d} bits: '{s}'", .{ name, @bitSizeOf(T), truncate(text) }),
    };
}

/// Shortens user input quoted in error messages.
fn truncate(s: []const u8) []const u8 {
    return s[0..@min(s.len, 80)];
}

fn hexBytes(diag: *Diag, name: []const u8, v: std.json.Value) Error![]u8 {
    const s = switch (v) {
        .string => |s| s,
        else => return diag.fail("field '{s}' must be a 0x-hex string, got {s}", .{ name, valueKind(v) }),
    };
    return hex.decode(diag.arena, s) catch |e| switch (e) {
        error.OutOfMemory => error.OutOfMemory,
        error.InvalidHex => diag.fail("field '{s}' must be 0x followed by an even number of hex digits, got '{s}'", .{ name, truncate(s) }),
    };
}

fn addressField(diag: *Diag, name: []const u8, s: []const u8) Error![20]u8 {
    return hex.parseAddress(s) catch |e| switch (e) {
        error.InvalidAddress => diag.fail("field '{s}' must be an address (0x + 40 hex digits), got '{s}'", .{ name, truncate(s) }),
        error.BadChecksum => diag.fail("field '{s}' has an invalid EIP-55 checksum: '{s}'", .{ name, truncate(s) }),
    };
}

fn bytes32Field(diag: *Diag, name: []const u8, v: std.json.Value) Error![32]u8 {
    var out: [32]u8 = undefined;
    const s = switch (v) {
        .string => |s| s,
        else => return diag.fail("field '{s}' must be a 32-byte 0x-hex string, got {s}", .{ name, valueKind(v) }),
    };
    hex.decodeFixed(&out, s) catch return diag.fail("field '{s}' must be 0x + 64 hex digits, got '{s}'", .{ name, truncate(s) });
    return out;
}

pub const Tx = struct {
    tx_type: TxType,
    nonce: u64,
    gas_price: u256 = 0,
    max_fee_per_gas: u256 = 0,
    max_priority_fee_per_gas: u256 = 0,
    gas: u64,
    to: ?[20]u8,
    value: u256,
    data: []const u8,
    /// Already RLP-encoded access list (type 2 only).
    access_list_rlp: []const u8 = &.{},
};

fn parseJson(diag: *Diag, text: []const u8) Error!std.json.ObjectMap {
    if (text.len > max_input_len)
        return diag.fail("tx_json is {d} bytes; the limit is {d}", .{ text.len, max_input_len });
    const root = std.json.parseFromSliceLeaky(std.json.Value, diag.arena, text, .{
        .parse_numbers = false,
        .duplicate_field_behavior = .@"error",
    }) catch |e| switch (e) {
        error.OutOfMemory => return error.OutOfMemory,
        error.DuplicateField => return diag.fail("tx_json has a duplicate field", .{}),
        else => return diag.fail("tx_json is not valid JSON ({s})", .{@errorName(e)}),
    };
    return switch (root) {
        .object => |o| o,
        else => diag.fail("tx_json must be a JSON object, got {s}", .{valueKind(root)}),
    };
}

fn required(diag: *Diag, obj: std.json.ObjectMap, name: []const u8, tx_type: TxType) Error!std.json.Value {
    const v = obj.get(name) orelse return diag.fail("field '{s}' is required for a {s} transaction", .{ name, typeName(tx_type) });
    if (v == .null) return diag.fail("field '{s}' is required for a {s} transaction, got null", .{ name, typeName(tx_type) });
    return v;
}

fn typeName(t: TxType) []const u8 {
    return switch (t) {
        .legacy => "legacy (type 0)",
        .eip1559 => "EIP-1559 (type 2)",
    };
}

fn present(obj: std.json.ObjectMap, name: []const u8) ?std.json.Value {
    const v = obj.get(name) orelse return null;
    return if (v == .null) null else v;
}

/// Parses and validates a transaction request. `signer` is the signer's address (a "from" field must match it).
pub fn parse(diag: *Diag, text: []const u8, chain_id: u64, signer: [20]u8) Error!Tx {
    const obj = try parseJson(diag, text);
    const tx_type: TxType = if (present(obj, "type")) |tv| blk: {
        const t = try quantity(u64, diag, "type", tv);
        break :blk switch (t) {
            0 => .legacy,
            2 => .eip1559,
            else => return diag.fail("unsupported transaction type {d} (supported: 0 = legacy EIP-155, 2 = EIP-1559)", .{t}),
        };
    } else if (present(obj, "maxFeePerGas") != null or present(obj, "maxPriorityFeePerGas") != null) .eip1559 else .legacy;

    const allowed: []const []const u8 = switch (tx_type) {
        .legacy => &legacy_fields,
        .eip1559 => &eip1559_fields,
    };
    var it = obj.iterator();
    while (it.next()) |entry| {
        const key = entry.key_ptr.*;
        for (allowed) |name| {
            if (std.mem.eql(u8, name, key)) break;
        } else {
            if (tx_type == .eip1559 and std.mem.eql(u8, key, "gasPrice"))
                return diag.fail("field 'gasPrice' is not part of an EIP-1559 (type 2) transaction; use maxFeePerGas and maxPriorityFeePerGas", .{});
            if (tx_type == .legacy and std.mem.eql(u8, key, "accessList"))
                return diag.fail("field 'accessList' is not part of a legacy transaction; use type 2", .{});
            return diag.fail("unknown field '{s}' in a {s} transaction", .{ truncate(key), typeName(tx_type) });
        }
    }

    if (present(obj, "chainId")) |cv| {
        const c = try quantity(u64, diag, "chainId", cv);
        if (c != chain_id) return diag.fail("field 'chainId' is {d} but chain_id {d} was requested", .{ c, chain_id });
    }
    if (present(obj, "from")) |fv| {
        const s = switch (fv) {
            .string => |s| s,
            else => return diag.fail("field 'from' must be an address string, got {s}", .{valueKind(fv)}),
        };
        const from = try addressField(diag, "from", s);
        if (!std.mem.eql(u8, &from, &signer)) {
            const want = hex.checksumAddress(signer);
            return diag.fail("field 'from' is {s} but this signer's address is {s}", .{ truncate(s), &want });
        }
    }

    var tx = Tx{
        .tx_type = tx_type,
        .nonce = try quantity(u64, diag, "nonce", try required(diag, obj, "nonce", tx_type)),
        .gas = try quantity(u64, diag, "gas", try required(diag, obj, "gas", tx_type)),
        .to = null,
        .value = if (present(obj, "value")) |v| try quantity(u256, diag, "value", v) else 0,
        .data = if (present(obj, "data")) |v| try hexBytes(diag, "data", v) else &.{},
    };
    if (tx.nonce == std.math.maxInt(u64)) return diag.fail("field 'nonce' must be below 2^64-1 (EIP-2681)", .{});
    if (present(obj, "to")) |tv| {
        const s = switch (tv) {
            .string => |s| s,
            else => return diag.fail("field 'to' must be an address string or null, got {s}", .{valueKind(tv)}),
        };
        if (s.len != 0) tx.to = try addressField(diag, "to", s);
    }
    switch (tx_type) {
        .legacy => tx.gas_price = try quantity(u256, diag, "gasPrice", try required(diag, obj, "gasPrice", tx_type)),
        .eip1559 => {
            tx.max_fee_per_gas = try quantity(u256, diag, "maxFeePerGas", try required(diag, obj, "maxFeePerGas", tx_type));
            tx.max_priority_fee_per_gas = try quantity(u256, diag, "maxPriorityFeePerGas", try required(diag, obj, "maxPriorityFeePerGas", tx_type));
            if (tx.max_priority_fee_per_gas > tx.max_fee_per_gas)
                return diag.fail("maxPriorityFeePerGas ({d}) exceeds maxFeePerGas ({d})", .{ tx.max_priority_fee_per_gas, tx.max_fee_per_gas });
            tx.access_list_rlp = try accessList(diag, present(obj, "accessList"));
        },
    }
    return tx;
}

fn accessList(diag: *Diag, v: ?std.json.Value) Error![]const u8 {
    var outer = rlp.List.init(diag.arena);
    const entries = if (v) |val| switch (val) {
        .array => |arr| arr.items,
        else => return diag.fail("field 'accessList' must be an array, got {s}", .{valueKind(val)}),
    } else &[_]std.json.Value{};
    for (entries, 0..) |entry, i| {
        const obj = switch (entry) {
            .object => |o| o,
            else => return diag.fail("accessList[{d}] must be an object with 'address' and 'storageKeys', got {s}", .{ i, valueKind(entry) }),
        };
        var it = obj.iterator();
        while (it.next()) |kv| {
            const key = kv.key_ptr.*;
            if (!std.mem.eql(u8, key, "address") and !std.mem.eql(u8, key, "storageKeys"))
                return diag.fail("unknown field '{s}' in accessList[{d}]", .{ truncate(key), i });
        }
        const addr_v = obj.get("address") orelse return diag.fail("accessList[{d}] has no 'address'", .{i});
        const addr_s = switch (addr_v) {
            .string => |s| s,
            else => return diag.fail("accessList[{d}].address must be an address string, got {s}", .{ i, valueKind(addr_v) }),
        };
        const addr = try addressField(diag, "accessList.address", addr_s);
        const keys_v = obj.get("storageKeys") orelse std.json.Value{ .array = std.json.Array.init(diag.arena) };
        const keys = switch (keys_v) {
            .array => |arr| arr.items,
            else => return diag.fail("accessList[{d}].storageKeys must be an array, got {s}", .{ i, valueKind(keys_v) }),
        };
        var key_list = rlp.List.init(diag.arena);
        for (keys) |k| {
            const key = try bytes32Field(diag, "accessList.storageKeys", k);
            try key_list.bytes(&key);
        }
        var item = rlp.List.init(diag.arena);
        try item.bytes(&addr);
        try item.raw(try key_list.finish(""));
        try outer.raw(try item.finish(""));
    }
    return outer.finish("");
}

fn appendFields(l: *rlp.List, tx: Tx, chain_id: u64) !void {
    switch (tx.tx_type) {
        .legacy => {
            try l.int(tx.nonce);
            try l.int(tx.gas_price);
            try l.int(tx.gas);
            try l.bytes(if (tx.to) |*to| to else &.{});
            try l.int(tx.value);
            try l.bytes(tx.data);
        },
        .eip1559 => {
            try l.int(chain_id);
            try l.int(tx.nonce);
            try l.int(tx.max_priority_fee_per_gas);
            try l.int(tx.max_fee_per_gas);
            try l.int(tx.gas);
            try l.bytes(if (tx.to) |*to| to else &.{});
            try l.int(tx.value);
            try l.bytes(tx.data);
            try l.raw(tx.access_list_rlp);
        },
    }
}

/// Signs a parsed transaction; returns the raw signed transaction bytes (allocated in `a`).
pub fn signParsed(a: Allocator, d: [32]u8, tx: Tx, chain_id: u64) ![]u8 {
    const type_prefix: []const u8 = switch (tx.tx_type) {
        .legacy => "",
        .eip1559 => &.{0x02},
    };
    var unsigned = rlp.List.init(a);
    defer unsigned.deinit();
    try appendFields(&unsigned, tx, chain_id);
    if (tx.tx_type == .legacy) {
        try unsigned.int(chain_id);
        try unsigned.int(0);
        try unsigned.int(0);
    }
    const payload = try unsigned.finish(type_prefix);
    defer a.free(payload);
    const sig = try ecdsa.sign(d, ecdsa.keccak(payload));

    var signed = rlp.List.init(a);
    defer signed.deinit();
    try appendFields(&signed, tx, chain_id);
    switch (tx.tx_type) {
        .legacy => try signed.int(@as(u256, chain_id) * 2 + 35 + sig.recid),
        .eip1559 => try signed.int(sig.recid),
    }
    try signed.int(std.mem.readInt(u256, &sig.r, .big));
    try signed.int(std.mem.readInt(u256, &sig.s, .big));
    return signed.finish(type_prefix);
}

/// sign_tx: JSON request -> "0x" + hex of the raw signed transaction. `signer` is the address of `d`.
pub fn signTx(diag: *Diag, d: [32]u8, signer: [20]u8, text: []const u8, chain_id: u64) Error![]u8 {
    if (chain_id == 0) return diag.fail("chain_id must be positive (0 would disable replay protection)", .{});
    const tx = try parse(diag, text, chain_id, signer);
    const raw = signParsed(diag.arena, d, tx, chain_id) catch |e| switch (e) {
        error.OutOfMemory => return error.OutOfMemory,
        error.InvalidSecretKey => return diag.fail("the signer has no valid key", .{}),
    };
    return hex.encode(diag.arena, raw);
}

/// EIP-191 version 0x45 (personal_sign): keccak256("\x19Ethereum Signed Message:\n" ++ len ++ message).
pub fn personalMessageHash(message: []const u8) [32]u8 {
    var h = std.crypto.hash.sha3.Keccak256.init(.{});
    var len_buf: [24]u8 = undefined;
    const len_text = std.fmt.bufPrint(&len_buf, "{d}", .{message.len}) catch unreachable;
    h.update("\x19Ethereum Signed Message:\n");
    h.update(len_text);
    h.update(message);
    var out: [32]u8 = undefined;
    h.final(&out);
    return out;
}

/// sign_message: "0x" + hex of r || s || v with v = 27 + recovery id.
pub fn signMessage(diag: *Diag, d: [32]u8, message: []const u8) Error![]u8 {
    if (message.len > max_input_len)
        return diag.fail("message is {d} bytes; the limit is {d}", .{ message.len, max_input_len });
    const sig = ecdsa.sign(d, personalMessageHash(message)) catch return diag.fail("the signer has no valid key", .{});
    var out: [65]u8 = undefined;
    @memcpy(out[0..32], &sig.r);
    @memcpy(out[32..64], &sig.s);
    out[64] = 27 + @as(u8, sig.recid);
    return hex.encode(diag.arena, &out);
}

const test_key_hex = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

fn testKey() [32]u8 {
    var d: [32]u8 = undefined;
    _ = std.fmt.hexToBytes(&d, test_key_hex) catch unreachable;
    return d;
}

fn expectSigned(json: []const u8, chain_id: u64, want: []const u8) !void {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    var diag = Diag{ .arena = arena.allocator() };
    const got = signTx(&diag, testKey(), try ecdsa.address(testKey()), json, chain_id) catch |e| {
        std.debug.print("error: {s}\n", .{diag.msg});
        return e;
    };
    try std.testing.expectEqualStrings(want, got);
}

fn expectInvalid(json: []const u8, chain_id: u64, want_substring: []const u8) !void {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    var diag = Diag{ .arena = arena.allocator() };
    try std.testing.expectError(error.Invalid, signTx(&diag, testKey(), try ecdsa.address(testKey()), json, chain_id));
    if (std.mem.indexOf(u8, diag.msg, want_substring) == null) {
        std.debug.print("message '{s}' lacks '{s}'\n", .{ diag.msg, want_substring });
        return error.TestUnexpectedResult;
    }
}

// Expected raw transactions computed with eth-account 0.14 (`Account.sign_transaction(tx, key).raw_transaction`).
test "signed transactions equal eth-account" {
    try expectSigned(
        \\{"nonce": 0, "gasPrice": 1000000000, "gas": 21000, "to": "0x3535353535353535353535353535353535353535", "value": 1000000000000000000, "data": "0x"}
    , 1, @embedFile("testdata/legacy1.txt"));
    try expectSigned(
        \\{"type": "0x2", "nonce": "0x7", "maxFeePerGas": "30000000000", "maxPriorityFeePerGas": "0x3b9aca00", "gas": 60000,
        \\ "to": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "value": "0", "data": "0x10f13a8c00ff",
        \\ "accessList": [{"address": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "storageKeys": ["0x0000000000000000000000000000000000000000000000000000000000000001"]}]}
    , 31337, @embedFile("testdata/eip1559.txt"));
    try expectSigned(
        \\{"nonce": 3, "maxFeePerGas": 2, "maxPriorityFeePerGas": 1, "gas": 100000, "to": null, "data": "0x6000"}
    , 5, @embedFile("testdata/create1559.txt"));
}

test "invalid requests are refused with clear messages" {
    try expectInvalid("{\"nonce\": 0}", 0, "chain_id must be positive");
    try expectInvalid("{", 1, "not valid JSON");
    try expectInvalid("[1]", 1, "must be a JSON object");
    try expectInvalid("{\"nonce\": 0, \"gas\": 1}", 1, "'gasPrice' is required");
    try expectInvalid("{\"nonce\": -1, \"gas\": 1, \"gasPrice\": 1}", 1, "field 'nonce' must be a non-negative integer");
    try expectInvalid("{\"nonce\": 1.5, \"gas\": 1, \"gasPrice\": 1}", 1, "'1.5'");
    try expectInvalid("{\"nonce\": true, \"gas\": 1, \"gasPrice\": 1}", 1, "got a boolean");
    try expectInvalid("{\"nonce\": 0, \"gas\": 1, \"gasPrice\": 1, \"to\": \"0x12\"}", 1, "field 'to' must be an address");
    try expectInvalid("{\"nonce\": 0, \"gas\": 1, \"gasPrice\": 1, \"data\": \"0x1\"}", 1, "field 'data'");
    try expectInvalid("{\"nonce\": 0, \"gas\": 1, \"gasPrice\": 1, \"gasprice\": 1}", 1, "unknown field 'gasprice'");
    try expectInvalid("{\"nonce\": 0, \"gas\": 1, \"gasPrice\": 1, \"nonce\": 1}", 1, "duplicate");
    try expectInvalid("{\"type\": 1, \"nonce\": 0}", 1, "unsupported transaction type 1");
    try expectInvalid("{\"nonce\": 0, \"gas\": 1, \"gasPrice\": 1, \"chainId\": 5}", 1, "'chainId' is 5");
    try expectInvalid("{\"nonce\": 0, \"gas\": 1, \"maxFeePerGas\": 1, \"maxPriorityFeePerGas\": 2}", 1, "exceeds maxFeePerGas");
    try expectInvalid("{\"nonce\": 0, \"gas\": 1, \"maxFeePerGas\": 1, \"maxPriorityFeePerGas\": 1, \"gasPrice\": 1}", 1, "'gasPrice' is not part");
    try expectInvalid("{\"nonce\": 0, \"gas\": 1, \"gasPrice\": 1, \"from\": \"0x0000000000000000000000000000000000000001\"}", 1, "this signer's address is 0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
    try expectInvalid("{\"nonce\": \"0x10000000000000000\", \"gas\": 1, \"gasPrice\": 1}", 1, "too large for 64 bits");
}

test "personal message hash and signature equal eth-account" {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    var diag = Diag{ .arena = arena.allocator() };
    const got = try signMessage(&diag, testKey(), "hello");
    try std.testing.expectEqualStrings(@embedFile("testdata/message_hello.txt"), got);
}

//! ENS helpers without I/O: ENSIP-1 namehash/labelhash, ABI call data for the registry and resolver functions
//! the project uses, decoding of their results, and setText transaction requests for the signer.
const std = @import("std");
const Allocator = std.mem.Allocator;
const Keccak256 = std.crypto.hash.sha3.Keccak256;
const hex = @import("hex");

pub const Error = error{ Invalid, OutOfMemory };

/// Largest accepted string argument in bytes.
pub const max_input_len: usize = 1 << 20;

pub const Diag = struct {
    arena: Allocator,
    msg: []const u8 = "",

    pub fn fail(self: *Diag, comptime fmt: []const u8, args: anytype) Error {
        self.msg = std.fmt.allocPrint(self.arena, fmt, args) catch return error.OutOfMemory;
        return error.Invalid;
    }
};

fn truncate(s: []const u8) []const u8 {
    return s[0..@min(s.len, 80)];
}

pub fn checkLen(diag: *Diag, what: []const u8, s: []const u8) Error!void {
    if (s.len > max_input_len) return diag.fail("{s} is {d} bytes; the limit is {d}", .{ what, s.len, max_input_len });
}

fn keccak(data: []const u8) [32]u8 {
    var h: [32]u8 = undefined;
    Keccak256.hash(data, &h, .{});
    return h;
}

/// Checks that `label` is already ENSIP-15 normalised, for the ASCII subset: characters a-z 0-9 - $ and _
/// (underscores only at the start), not "--" at positions 3-4. Non-ASCII labels are refused: checking their
/// normalisation needs the full Unicode tables, and hashing an unnormalised name silently yields a wrong node.
fn checkLabel(diag: *Diag, name: []const u8, label: []const u8) Error!void {
    if (label.len == 0) return diag.fail("invalid ENS name '{s}': labels cannot be empty", .{truncate(name)});
    var leading_underscores = true;
    for (label, 0..) |c, i| {
        if (c == '_') {
            if (!leading_underscores)
                return diag.fail("invalid ENS name '{s}': '_' may only occur at the start of a label", .{truncate(name)});
            continue;
        }
        leading_underscores = false;
        switch (c) {
            'a'...'z', '0'...'9', '-', '$' => {},
            'A'...'Z' => return diag.fail("ENS name '{s}' is not normalised: uppercase '{c}' (use lowercase)", .{ truncate(name), c }),
            0x80...0xff => return diag.fail("ENS name '{s}' has a non-ASCII label; this module accepts only normalised ASCII names (a-z 0-9 - $ _)", .{truncate(name)}),
            else => return diag.fail("ENS name '{s}' has a character that is not allowed or needs normalisation: byte 0x{x:0>2} at label offset {d}", .{ truncate(name), c, i }),
        }
    }
    if (label.len >= 4 and label[2] == '-' and label[3] == '-')
        return diag.fail("invalid ENS name '{s}': a label's third and fourth characters cannot both be '-'", .{truncate(name)});
}

/// ENSIP-1 namehash of a normalised name; '' is the root (32 zero bytes).
pub fn namehash(diag: *Diag, name: []const u8) Error![32]u8 {
    try checkLen(diag, "name", name);
    var node: [32]u8 = @splat(0);
    if (name.len == 0) return node;
    // Validate every label first so errors name the problem, not a partial hash.
    var it = std.mem.splitScalar(u8, name, '.');
    while (it.next()) |label| try checkLabel(diag, name, label);
    var end = name.len;
    while (true) {
        const start = if (std.mem.lastIndexOfScalar(u8, name[0..end], '.')) |dot| dot + 1 else 0;
        var buf: [64]u8 = undefined;
        @memcpy(buf[0..32], &node);
        buf[32..64].* = keccak(name[start..end]);
        node = keccak(&buf);
        if (start == 0) break;
        end = start - 1;
    }
    return node;
}

/// keccak256 of one normalised label.
pub fn labelhash(diag: *Diag, label: []const u8) Error![32]u8 {
    try checkLen(diag, "label", label);
    if (std.mem.indexOfScalar(u8, label, '.') != null)
        return diag.fail("label '{s}' contains '.'; pass a single label (use namehash for names)", .{truncate(label)});
    try checkLabel(diag, label, label);
    return keccak(label);
}

pub fn parseBytes32(diag: *Diag, what: []const u8, s: []const u8) Error![32]u8 {
    var out: [32]u8 = undefined;
    hex.decodeFixed(&out, s) catch return diag.fail("{s} must be 0x + 64 hex digits (bytes32), got '{s}'", .{ what, truncate(s) });
    return out;
}

pub fn parseAddress(diag: *Diag, what: []const u8, s: []const u8) Error![20]u8 {
    return hex.parseAddress(s) catch |e| switch (e) {
        error.InvalidAddress => diag.fail("{s} must be an address (0x + 40 hex digits), got '{s}'", .{ what, truncate(s) }),
        error.BadChecksum => diag.fail("{s} has an invalid EIP-55 checksum: '{s}'", .{ what, truncate(s) }),
    };
}

/// Solidity ABI argument, head/tail encoded by `encodeCall`.
pub const Arg = union(enum) {
    bytes32: [32]u8,
    address: [20]u8,
    string: []const u8,
};

fn padded(len: usize) usize {
    return (len + 31) / 32 * 32;
}

/// selector(signature) ++ abi.encode(args): "0x" + hex.
pub fn encodeCall(a: Allocator, signature: []const u8, args: []const Arg) ![]u8 {
    const head_len: usize = 32 * args.len;
    var total: usize = 4 + head_len;
    for (args) |arg| switch (arg) {
        .string => |s| total += 32 + padded(s.len),
        else => {},
    };
    const out = try a.alloc(u8, total);
    defer a.free(out);
    @memset(out, 0);
    const sel = keccak(signature);
    @memcpy(out[0..4], sel[0..4]);
    var tail_off: usize = head_len; // offset of the next dynamic value, relative to the start of the arguments
    const body = out[4..];
    for (args, 0..) |arg, i| {
        const word = body[32 * i ..][0..32];
        switch (arg) {
            .bytes32 => |b| word.* = b,
            .address => |addr| @memcpy(word[12..], &addr),
            .string => |s| {
                std.mem.writeInt(u256, word, tail_off, .big);
                std.mem.writeInt(u256, body[tail_off..][0..32], s.len, .big);
                @memcpy(body[tail_off + 32 ..][0..s.len], s);
                tail_off += 32 + padded(s.len);
            },
        }
    }
    return hex.encode(a, out);
}

fn decodeHexResult(diag: *Diag, data_hex: []const u8) Error![]u8 {
    try checkLen(diag, "data", data_hex);
    const data = hex.decode(diag.arena, data_hex) catch |e| switch (e) {
        error.OutOfMemory => return error.OutOfMemory,
        error.InvalidHex => return diag.fail("result data must be 0x followed by an even number of hex digits, got '{s}'", .{truncate(data_hex)}),
    };
    if (data.len == 0) return diag.fail("result data is empty (no contract at that address, or the call reverted)", .{});
    return data;
}

fn wordAsUsize(diag: *Diag, what: []const u8, word: *const [32]u8) Error!usize {
    const v = std.mem.readInt(u256, word, .big);
    if (v > max_input_len) return diag.fail("ABI-encoded string: {s} {d} is out of range", .{ what, v });
    return @intCast(v);
}

/// Decodes the ABI encoding of a single `string` return value (e.g. of `text(bytes32,string)`).
pub fn decodeString(diag: *Diag, data_hex: []const u8) Error![]const u8 {
    const data = try decodeHexResult(diag, data_hex);
    if (data.len < 64) return diag.fail("ABI-encoded string is {d} bytes; at least 64 expected", .{data.len});
    const off = try wordAsUsize(diag, "offset", data[0..32]);
    if (off % 32 != 0 or off + 32 > data.len)
        return diag.fail("ABI-encoded string: offset {d} is out of range for {d} bytes", .{ off, data.len });
    const len = try wordAsUsize(diag, "length", data[off..][0..32]);
    if (off + 32 + len > data.len)
        return diag.fail("ABI-encoded string: length {d} runs past the end of {d} bytes", .{ len, data.len });
    const s = data[off + 32 ..][0..len];
    if (!std.unicode.utf8ValidateSlice(s)) return diag.fail("ABI-encoded string is not valid UTF-8", .{});
    return s;
}

/// Decodes the ABI encoding of a single `address` return value (e.g. of `owner(bytes32)`): EIP-55 checksummed.
pub fn decodeAddress(diag: *Diag, data_hex: []const u8) Error![42]u8 {
    const data = try decodeHexResult(diag, data_hex);
    if (data.len != 32) return diag.fail("ABI-encoded address must be 32 bytes, got {d}", .{data.len});
    for (data[0..12]) |b| if (b != 0) return diag.fail("ABI-encoded address has non-zero high bytes", .{});
    return hex.checksumAddress(data[12..32].*);
}

fn quantityArg(diag: *Diag, what: []const u8, s: []const u8) Error!u256 {
    return hex.parseQuantity(u256, s) catch |e| switch (e) {
        error.InvalidNumber => diag.fail("{s} must be a non-negative integer in decimal or 0x-hex, got '{s}'", .{ what, truncate(s) }),
        error.NumberTooLarge => diag.fail("{s} is too large: '{s}'", .{ what, truncate(s) }),
    };
}

pub const SetTextRequest = struct {
    name: []const u8,
    key: []const u8,
    value: []const u8,
    resolver: []const u8,
    nonce: []const u8,
    gas: []const u8,
    max_fee_per_gas: []const u8,
    max_priority_fee_per_gas: []const u8,
};

/// An EIP-1559 transaction request (JSON, the format the signer's sign_tx accepts) calling
/// resolver.setText(namehash(name), key, value). Quantities are written as 0x-hex strings.
pub fn prepareSetText(diag: *Diag, req: SetTextRequest) Error![]u8 {
    const a = diag.arena;
    try checkLen(diag, "key", req.key);
    try checkLen(diag, "value", req.value);
    const node = try namehash(diag, req.name);
    const resolver = try parseAddress(diag, "resolver", req.resolver);
    const nonce = try quantityArg(diag, "nonce", req.nonce);
    if (nonce >= std.math.maxInt(u64)) return diag.fail("nonce must be below 2^64-1, got '{s}'", .{truncate(req.nonce)});
    const gas = try quantityArg(diag, "gas", req.gas);
    if (gas > std.math.maxInt(u64)) return diag.fail("gas must fit in 64 bits, got '{s}'", .{truncate(req.gas)});
    if (gas == 0) return diag.fail("gas must be positive", .{});
    const max_fee = try quantityArg(diag, "max_fee_per_gas", req.max_fee_per_gas);
    const max_priority = try quantityArg(diag, "max_priority_fee_per_gas", req.max_priority_fee_per_gas);
    if (max_priority > max_fee)
        return diag.fail("max_priority_fee_per_gas ({d}) exceeds max_fee_per_gas ({d})", .{ max_priority, max_fee });
    if (!std.unicode.utf8ValidateSlice(req.key) or !std.unicode.utf8ValidateSlice(req.value))
        return diag.fail("key and value must be valid UTF-8", .{});
    const data = try encodeCall(a, "setText(bytes32,string,string)", &.{ .{ .bytes32 = node }, .{ .string = req.key }, .{ .string = req.value } });
    const to = hex.checksumAddress(resolver);
    return std.fmt.allocPrint(a,
        \\{{"type":"0x2","nonce":"{s}","gas":"{s}","maxFeePerGas":"{s}","maxPriorityFeePerGas":"{s}","to":"{s}","value":"0x0","data":"{s}","accessList":[]}}
    , .{
        try hex.encodeQuantity(a, nonce),
        try hex.encodeQuantity(a, gas),
        try hex.encodeQuantity(a, max_fee),
        try hex.encodeQuantity(a, max_priority),
        &to,
        data,
    });
}

// Expected values below come from web3.py 8 (`ens.utils.raw_name_to_hash`) and eth-abi.
fn expectNamehash(name: []const u8, want: []const u8) !void {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    var diag = Diag{ .arena = arena.allocator() };
    const node = try namehash(&diag, name);
    try std.testing.expectEqualStrings(want, try hex.encode(arena.allocator(), &node));
}

fn expectRefused(name: []const u8, want_substring: []const u8) !void {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    var diag = Diag{ .arena = arena.allocator() };
    try std.testing.expectError(error.Invalid, namehash(&diag, name));
    try std.testing.expect(std.mem.indexOf(u8, diag.msg, want_substring) != null);
}

test "namehash equals web3.py" {
    try expectNamehash("", "0x0000000000000000000000000000000000000000000000000000000000000000");
    try expectNamehash("eth", "0x93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae");
    try expectNamehash("foo.eth", "0xde9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f");
    try expectNamehash("alpha.public-record.eth", "0x1a5d2aeabb4e30ef982f461008aae2220ff63dcc73dce6ad67385be42c3f5fca");
}

test "unnormalised names are refused" {
    try expectRefused("Foo.eth", "uppercase 'F'");
    try expectRefused("foo..eth", "labels cannot be empty");
    try expectRefused("eth.", "labels cannot be empty");
    try expectRefused(".", "labels cannot be empty");
    try expectRefused("caf\xc3\xa9.eth", "non-ASCII");
    try expectRefused("a_b.eth", "'_' may only occur at the start");
    try expectRefused("xn--abc.eth", "third and fourth");
    try expectRefused("a'b.eth", "needs normalisation");
    try expectRefused("a b.eth", "byte 0x20");
}

test "call data equals eth-abi" {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    var diag = Diag{ .arena = arena.allocator() };
    const node = try namehash(&diag, "foo.eth");
    const set_text = try encodeCall(arena.allocator(), "setText(bytes32,string,string)", &.{ .{ .bytes32 = node }, .{ .string = "wasm.signer" }, .{ .string = "bafyxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" } });
    try std.testing.expectEqualStrings("0x10f13a8cde9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f000000000000000000000000000000000000000000000000000000000000006000000000000000000000000000000000000000000000000000000000000000a0000000000000000000000000000000000000000000000000000000000000000b7761736d2e7369676e6572000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002c62616679787878787878787878787878787878787878787878787878787878787878787878787878787878780000000000000000000000000000000000000000", set_text);
    const text = try encodeCall(arena.allocator(), "text(bytes32,string)", &.{ .{ .bytes32 = node }, .{ .string = "\xc3\xbc" } });
    try std.testing.expectEqualStrings("0x59d1d43cde9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f00000000000000000000000000000000000000000000000000000000000000400000000000000000000000000000000000000000000000000000000000000002c3bc000000000000000000000000000000000000000000000000000000000000", text);
}

test "string and address results decode" {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    var diag = Diag{ .arena = arena.allocator() };
    const s = try decodeString(&diag, "0x0000000000000000000000000000000000000000000000000000000000000020000000000000000000000000000000000000000000000000000000000000000a68c3a96c6c6f20e29c9300000000000000000000000000000000000000000000");
    try std.testing.expectEqualStrings("h\xc3\xa9llo \xe2\x9c\x93", s);
    try std.testing.expectError(error.Invalid, decodeString(&diag, "0x"));
    try std.testing.expectError(error.Invalid, decodeString(&diag, "0x00000000000000000000000000000000000000000000000000000000000000200000000000000000000000000000000000000000000000000000000000000040"));
    const addr = try decodeAddress(&diag, "0x0000000000000000000000005aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
    try std.testing.expectEqualStrings("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", &addr);
}

test "prepare_set_text builds a type-2 request" {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    var diag = Diag{ .arena = arena.allocator() };
    const json = try prepareSetText(&diag, .{ .name = "foo.eth", .key = "k", .value = "v", .resolver = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", .nonce = "7", .gas = "0x100", .max_fee_per_gas = "10", .max_priority_fee_per_gas = "1" });
    const parsed = try std.json.parseFromSliceLeaky(std.json.Value, arena.allocator(), json, .{});
    try std.testing.expectEqualStrings("0x7", parsed.object.get("nonce").?.string);
    try std.testing.expectEqualStrings("0x100", parsed.object.get("gas").?.string);
    try std.testing.expectEqualStrings("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", parsed.object.get("to").?.string);
    try std.testing.expect(std.mem.startsWith(u8, parsed.object.get("data").?.string, "0x10f13a8c"));
    try std.testing.expectError(error.Invalid, prepareSetText(&diag, .{ .name = "foo.eth", .key = "k", .value = "v", .resolver = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", .nonce = "7", .gas = "0x100", .max_fee_per_gas = "1", .max_priority_fee_per_gas = "10" }));
}

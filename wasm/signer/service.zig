//! The signer's state and its exported operations, independent of the Marine ABI glue in main.zig.
//!
//! The secret key lives only in `key` below (wasm linear memory). Nothing here returns, logs or formats it:
//! results are addresses and signatures, and error messages are built only from the caller's input.
const std = @import("std");
const Allocator = std.mem.Allocator;
const hex = @import("hex");
const ecdsa = @import("ecdsa.zig");
pub const tx = @import("tx.zig");
const auth = @import("auth.zig");

pub const Caller = auth.Caller;
pub const Diag = tx.Diag;

pub fn Result(comptime T: type) type {
    return struct {
        success: bool,
        @"error": []const u8,
        value: T,
    };
}

/// Fills the buffer with random bytes (WASI `random_get` in the module); false on failure.
pub const RandomFn = *const fn (buf: []u8) bool;

/// How many 32-byte draws `initiate` makes before giving up on a random source that yields no valid key.
pub const max_key_draws = 16;

pub const Signer = struct {
    key: ?[32]u8 = null,
    /// The key's address, computed once when the key is created.
    addr: [20]u8 = undefined,
    registry: auth.Registry,
    random: RandomFn,

    pub fn init(gpa: Allocator, random: RandomFn) Signer {
        return .{ .registry = auth.Registry.init(gpa), .random = random };
    }

    pub fn deinit(self: *Signer) void {
        if (self.key) |*k| std.crypto.secureZero(u8, k);
        self.registry.deinit();
    }

    fn addressText(self: *const Signer, a: Allocator) ![]u8 {
        return a.dupe(u8, &hex.checksumAddress(self.addr));
    }

    fn createKey(self: *Signer, diag: *Diag) tx.Error!void {
        var candidate: [32]u8 = undefined;
        defer std.crypto.secureZero(u8, &candidate);
        var draws: usize = 0;
        while (draws < max_key_draws) : (draws += 1) {
            if (!self.random(&candidate)) return diag.fail("the random source (WASI random_get) failed", .{});
            if (ecdsa.address(candidate)) |addr| {
                self.key = candidate;
                self.addr = addr;
                return;
            } else |_| {}
        }
        return diag.fail("the random source produced no valid secp256k1 key in {d} draws", .{max_key_draws});
    }

    /// Creates the key on the first call (authorised callers only); returns the address, the same on every call.
    pub fn initiate(self: *Signer, diag: *Diag, caller: Caller) tx.Error![]u8 {
        try self.registry.requireUser(diag, caller, "initiate the signer");
        if (self.key == null) try self.createKey(diag);
        return self.addressText(diag.arena);
    }

    pub fn address(self: *const Signer, diag: *Diag) tx.Error![]u8 {
        if (self.key == null) return diag.fail("the signer is not initiated: call initiate() first", .{});
        return self.addressText(diag.arena);
    }

    pub fn signTx(self: *const Signer, diag: *Diag, caller: Caller, tx_json: []const u8, chain_id: u64) tx.Error![]u8 {
        try self.registry.requireUser(diag, caller, "sign transactions");
        const key = self.key orelse return diag.fail("the signer is not initiated: call initiate() first", .{});
        return tx.signTx(diag, key, self.addr, tx_json, chain_id);
    }

    pub fn signMessage(self: *const Signer, diag: *Diag, caller: Caller, message: []const u8) tx.Error![]u8 {
        try self.registry.requireUser(diag, caller, "sign messages");
        const key = self.key orelse return diag.fail("the signer is not initiated: call initiate() first", .{});
        return tx.signMessage(diag, key, message);
    }

    pub fn authorize(self: *Signer, diag: *Diag, caller: Caller, peer_id: []const u8) tx.Error!bool {
        return self.registry.authorize(diag, caller, peer_id);
    }

    pub fn revoke(self: *Signer, diag: *Diag, caller: Caller, peer_id: []const u8) tx.Error!bool {
        return self.registry.revoke(diag, caller, peer_id);
    }
};

/// Runs `op` and turns its outcome into a result record: the value on success, the message on failure.
/// Out of memory is reported as an error record too (the next call may well succeed).
pub fn toResult(comptime T: type, diag: *const Diag, outcome: tx.Error!T, empty: T) Result(T) {
    if (outcome) |v| {
        return .{ .success = true, .@"error" = "", .value = v };
    } else |e| {
        const msg = switch (e) {
            error.Invalid => diag.msg,
            error.OutOfMemory => "out of memory",
        };
        return .{ .success = false, .@"error" = msg, .value = empty };
    }
}

var test_stream: [64]u8 = undefined;
var test_pos: usize = 0;

fn testRandom(buf: []u8) bool {
    for (buf) |*b| {
        b.* = test_stream[test_pos % test_stream.len];
        test_pos += 1;
    }
    return true;
}

test "initiate draws until a valid key, then keeps it" {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    var diag = Diag{ .arena = arena.allocator() };
    // First draw is zero (invalid), second is the known key.
    @memset(test_stream[0..32], 0);
    _ = try std.fmt.hexToBytes(test_stream[32..64], "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
    test_pos = 0;
    var s = Signer.init(std.testing.allocator, testRandom);
    defer s.deinit();
    const creator = Caller{ .init_peer_id = "12D3KooWCreator", .service_creator_peer_id = "12D3KooWCreator", .host_id = "12D3KooWHost" };
    try std.testing.expectError(error.Invalid, s.address(&diag));
    try std.testing.expect(std.mem.indexOf(u8, diag.msg, "not initiated") != null);
    try std.testing.expectEqualStrings("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23", try s.initiate(&diag, creator));
    try std.testing.expectEqualStrings("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23", try s.initiate(&diag, creator));
    try std.testing.expectEqualStrings("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23", try s.address(&diag));
    const intruder = Caller{ .init_peer_id = "12D3KooWIntruder", .service_creator_peer_id = "12D3KooWCreator", .host_id = "12D3KooWHost" };
    const r = toResult([]u8, &diag, s.signMessage(&diag, intruder, "hi"), &.{});
    try std.testing.expect(!r.success);
    try std.testing.expect(std.mem.indexOf(u8, r.@"error", "12D3KooWIntruder") != null);
}

test "a random source that only yields invalid keys fails cleanly" {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    var diag = Diag{ .arena = arena.allocator() };
    @memset(&test_stream, 0xff);
    test_pos = 0;
    var s = Signer.init(std.testing.allocator, testRandom);
    defer s.deinit();
    const creator = Caller{ .init_peer_id = "12D3KooWCreator", .service_creator_peer_id = "12D3KooWCreator", .host_id = "" };
    try std.testing.expectError(error.Invalid, s.initiate(&diag, creator));
    try std.testing.expect(std.mem.indexOf(u8, diag.msg, "no valid secp256k1 key") != null);
    try std.testing.expect(s.key == null);
}

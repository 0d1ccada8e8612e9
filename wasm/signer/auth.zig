//! Who may use the signer, decided from the call parameters of each call.
//!
//! Allowed to sign (and to initiate): the peer that created the service (`service_creator_peer_id`), the host
//! peer itself (`init_peer_id == host_id`: the peer's own scheduled scripts) and peers the creator added with
//! `authorize`. Only the creator may `authorize` / `revoke`. Calls without a creator in their call parameters
//! are refused: an empty creator would otherwise match an empty init peer id.
const std = @import("std");
const Allocator = std.mem.Allocator;
const Diag = @import("tx.zig").Diag;
const Error = @import("tx.zig").Error;

pub const Caller = struct {
    init_peer_id: []const u8,
    service_creator_peer_id: []const u8,
    host_id: []const u8,
};

pub const max_peers: usize = 256;
const max_peer_id_len: usize = 128;

fn truncate(s: []const u8) []const u8 {
    return s[0..@min(s.len, 80)];
}

pub const Registry = struct {
    gpa: Allocator,
    peers: std.ArrayList([]u8) = .empty,

    pub fn init(gpa: Allocator) Registry {
        return .{ .gpa = gpa };
    }

    pub fn deinit(self: *Registry) void {
        for (self.peers.items) |p| self.gpa.free(p);
        self.peers.deinit(self.gpa);
    }

    fn indexOf(self: *const Registry, peer_id: []const u8) ?usize {
        for (self.peers.items, 0..) |p, i| if (std.mem.eql(u8, p, peer_id)) return i;
        return null;
    }

    fn checkCallParameters(diag: *Diag, c: Caller) Error!void {
        if (c.service_creator_peer_id.len == 0)
            return diag.fail("call parameters carry no service_creator_peer_id; refusing to act without knowing the service's creator", .{});
        if (c.init_peer_id.len == 0)
            return diag.fail("call parameters carry no init_peer_id; refusing an anonymous call", .{});
    }

    pub fn mayUse(self: *const Registry, c: Caller) bool {
        if (c.service_creator_peer_id.len == 0 or c.init_peer_id.len == 0) return false;
        if (std.mem.eql(u8, c.init_peer_id, c.service_creator_peer_id)) return true;
        if (c.host_id.len != 0 and std.mem.eql(u8, c.init_peer_id, c.host_id)) return true;
        return self.indexOf(c.init_peer_id) != null;
    }

    /// Fails with a message naming the caller unless it may use the signer for `action`.
    pub fn requireUser(self: *const Registry, diag: *Diag, c: Caller, action: []const u8) Error!void {
        try checkCallParameters(diag, c);
        if (!self.mayUse(c))
            return diag.fail("peer '{s}' is not authorised to {s}: only the service creator '{s}', the host peer and peers the creator authorised may", .{ truncate(c.init_peer_id), action, truncate(c.service_creator_peer_id) });
    }

    fn requireCreator(diag: *Diag, c: Caller, action: []const u8) Error!void {
        try checkCallParameters(diag, c);
        if (!std.mem.eql(u8, c.init_peer_id, c.service_creator_peer_id))
            return diag.fail("peer '{s}' may not {s}: only the service creator '{s}' may", .{ truncate(c.init_peer_id), action, truncate(c.service_creator_peer_id) });
    }

    fn checkPeerId(diag: *Diag, peer_id: []const u8) Error!void {
        if (peer_id.len == 0) return diag.fail("peer_id is empty", .{});
        if (peer_id.len > max_peer_id_len) return diag.fail("peer_id is {d} bytes; a peer id has at most {d}", .{ peer_id.len, max_peer_id_len });
        for (peer_id) |ch| {
            const ok = switch (ch) {
                '1'...'9', 'A'...'H', 'J'...'N', 'P'...'Z', 'a'...'k', 'm'...'z' => true,
                else => false,
            };
            if (!ok) return diag.fail("peer_id '{s}' is not base58 (peer ids look like 12D3KooW...)", .{truncate(peer_id)});
        }
    }

    /// Adds `peer_id`; returns false if it was already authorised (or is the creator).
    pub fn authorize(self: *Registry, diag: *Diag, c: Caller, peer_id: []const u8) Error!bool {
        try requireCreator(diag, c, "authorize peers");
        try checkPeerId(diag, peer_id);
        if (std.mem.eql(u8, peer_id, c.service_creator_peer_id) or self.indexOf(peer_id) != null) return false;
        if (self.peers.items.len >= max_peers) return diag.fail("already {d} authorised peers; revoke one first", .{max_peers});
        const copy = try self.gpa.dupe(u8, peer_id);
        errdefer self.gpa.free(copy);
        try self.peers.append(self.gpa, copy);
        return true;
    }

    /// Removes `peer_id`; returns false if it was not authorised.
    pub fn revoke(self: *Registry, diag: *Diag, c: Caller, peer_id: []const u8) Error!bool {
        try requireCreator(diag, c, "revoke peers");
        try checkPeerId(diag, peer_id);
        if (std.mem.eql(u8, peer_id, c.service_creator_peer_id))
            return diag.fail("the service creator '{s}' cannot be revoked", .{truncate(peer_id)});
        const i = self.indexOf(peer_id) orelse return false;
        self.gpa.free(self.peers.orderedRemove(i));
        return true;
    }
};

test "creator, host and authorised peers may use the signer; only the creator manages the list" {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    var diag = Diag{ .arena = arena.allocator() };
    var reg = Registry.init(std.testing.allocator);
    defer reg.deinit();
    const creator = "12D3KooWCreator";
    const host = "12D3KooWHost";
    const other = "12D3KooWFriend";
    const as = struct {
        fn caller(who: []const u8) Caller {
            return .{ .init_peer_id = who, .service_creator_peer_id = "12D3KooWCreator", .host_id = "12D3KooWHost" };
        }
    };
    try reg.requireUser(&diag, as.caller(creator), "sign");
    try reg.requireUser(&diag, as.caller(host), "sign");
    try std.testing.expectError(error.Invalid, reg.requireUser(&diag, as.caller(other), "sign"));
    try std.testing.expect(std.mem.indexOf(u8, diag.msg, "'12D3KooWFriend' is not authorised to sign") != null);

    try std.testing.expectError(error.Invalid, reg.authorize(&diag, as.caller(other), other));
    try std.testing.expectError(error.Invalid, reg.authorize(&diag, as.caller(host), other));
    try std.testing.expect(try reg.authorize(&diag, as.caller(creator), other));
    try std.testing.expect(!try reg.authorize(&diag, as.caller(creator), other));
    try reg.requireUser(&diag, as.caller(other), "sign");
    try std.testing.expectError(error.Invalid, reg.revoke(&diag, as.caller(other), other));
    try std.testing.expect(try reg.revoke(&diag, as.caller(creator), other));
    try std.testing.expect(!try reg.revoke(&diag, as.caller(creator), other));
    try std.testing.expectError(error.Invalid, reg.requireUser(&diag, as.caller(other), "sign"));
    try std.testing.expectError(error.Invalid, reg.revoke(&diag, as.caller(creator), creator));
    try std.testing.expectError(error.Invalid, reg.authorize(&diag, as.caller(creator), "not a peer id!"));

    // Empty call parameters never authorise.
    try std.testing.expectError(error.Invalid, reg.requireUser(&diag, .{ .init_peer_id = "", .service_creator_peer_id = "", .host_id = "" }, "sign"));
    try std.testing.expect(std.mem.indexOf(u8, diag.msg, "service_creator_peer_id") != null);
}

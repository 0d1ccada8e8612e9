//! The signer service module: Marine ABI entry points over service.zig.
//!
//! The secp256k1 key is created from WASI `random_get` on the first `initiate` and stays in this module's
//! linear memory. No function returns, logs or writes it; there is no export or debug function for it.
const std = @import("std");
const marine = @import("marine");
const iface = @import("interface");
const service = @import("service.zig");

var signer_state: ?service.Signer = null;

fn wasiRandom(buf: []u8) bool {
    return std.os.wasi.random_get(buf.ptr, buf.len) == .SUCCESS;
}

fn signer() *service.Signer {
    if (signer_state == null) signer_state = service.Signer.init(std.heap.wasm_allocator, wasiRandom);
    return &signer_state.?;
}

fn caller() service.Caller {
    const cp = marine.callParameters();
    return .{
        .init_peer_id = cp.particle.init_peer_id,
        .service_creator_peer_id = cp.service_creator_peer_id,
        .host_id = cp.host_id,
    };
}

/// Converts an outcome into the interface's result record `R` (fields success, error, value).
fn record(comptime R: type, comptime T: type, function: []const u8, diag: *const service.Diag, outcome: service.tx.Error!T, empty: T) R {
    const r = service.toResult(T, diag, outcome, empty);
    if (!r.success) marine.log.debug("{s} refused: {s}", .{ function, r.@"error" });
    return .{ .success = r.success, .@"error" = r.@"error", .value = r.value };
}

fn newDiag() service.Diag {
    return .{ .arena = marine.allocator() };
}

pub fn initiate() iface.SignResult {
    var diag = newDiag();
    const had_key = signer().key != null;
    const outcome = signer().initiate(&diag, caller());
    if (!had_key and signer().key != null) {
        if (outcome) |addr| marine.log.info("signer initiated: address {s}", .{addr}) else |_| {}
    }
    return record(iface.SignResult, []u8, "initiate", &diag, outcome, &.{});
}

pub fn address() iface.SignResult {
    var diag = newDiag();
    return record(iface.SignResult, []u8, "address", &diag, signer().address(&diag), &.{});
}

pub fn sign_tx(tx_json: []const u8, chain_id: u64) iface.SignResult {
    var diag = newDiag();
    return record(iface.SignResult, []u8, "sign_tx", &diag, signer().signTx(&diag, caller(), tx_json, chain_id), &.{});
}

pub fn sign_message(message: []const u8) iface.SignResult {
    var diag = newDiag();
    return record(iface.SignResult, []u8, "sign_message", &diag, signer().signMessage(&diag, caller(), message), &.{});
}

pub fn authorize(peer_id: []const u8) iface.AuthResult {
    var diag = newDiag();
    return record(iface.AuthResult, bool, "authorize", &diag, signer().authorize(&diag, caller(), peer_id), false);
}

pub fn revoke(peer_id: []const u8) iface.AuthResult {
    var diag = newDiag();
    return record(iface.AuthResult, bool, "revoke", &diag, signer().revoke(&diag, caller(), peer_id), false);
}

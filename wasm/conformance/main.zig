//! Conformance module: every Marine type through the ABI, unit results, module state, host facilities
//! (call parameters, logging) and failure cases (trap, endless loop, exhausted memory, error result).
const std = @import("std");
const marine = @import("marine");
const iface = @import("interface");

// --- scalars -----------------------------------------------------------------------------------------

pub fn echo_bool(v: bool) bool {
    return v;
}
pub fn echo_i8(v: i8) i8 {
    return v;
}
pub fn echo_i16(v: i16) i16 {
    return v;
}
pub fn echo_i32(v: i32) i32 {
    return v;
}
pub fn echo_i64(v: i64) i64 {
    return v;
}
pub fn echo_u8(v: u8) u8 {
    return v;
}
pub fn echo_u16(v: u16) u16 {
    return v;
}
pub fn echo_u32(v: u32) u32 {
    return v;
}
pub fn echo_u64(v: u64) u64 {
    return v;
}
pub fn echo_f32(v: f32) f32 {
    return v;
}
pub fn echo_f64(v: f64) f64 {
    return v;
}

pub fn pack_scalars(flag: bool, a: i8, b: i16, c: i32, d: i64, e: u8, f: u16, g: u32, h: u64, x: f32, y: f64) iface.Scalars {
    return .{ .flag = flag, .a = a, .b = b, .c = c, .d = d, .e = e, .f = f, .g = g, .h = h, .x = x, .y = y };
}

/// The fields as text; floats as the hex of their IEEE bits, so the text is exact.
pub fn describe_scalars(s: iface.Scalars) []const u8 {
    return marine.print("{} {d} {d} {d} {d} {d} {d} {d} {d} {x:0>8} {x:0>16}", .{
        s.flag, s.a, s.b, s.c, s.d, s.e, s.f, s.g, s.h, @as(u32, @bitCast(s.x)), @as(u64, @bitCast(s.y)),
    });
}

pub fn add_wrapping_u64(a: u64, b: u64) u64 {
    return a +% b;
}

// --- strings and byte vectors ------------------------------------------------------------------------

pub fn echo_string(s: []const u8) []const u8 {
    return s; // an argument may be returned as is: arguments live until release_objects
}
pub fn echo_str(s: []const u8) []const u8 {
    return marine.dupe(u8, s);
}
pub fn byte_length(s: []const u8) u32 {
    return @intCast(s.len);
}
pub fn concat(a: []const u8, sep: []const u8, b: []const u8) []const u8 {
    return marine.print("{s}{s}{s}", .{ a, sep, b });
}
pub fn echo_bytes(v: []const u8) []const u8 {
    return v;
}
pub fn reverse_bytes(v: []const u8) []const u8 {
    const out = marine.allocator().alloc(u8, v.len) catch @trap();
    for (v, 0..) |byte, i| out[v.len - 1 - i] = byte;
    return out;
}

// --- vectors -----------------------------------------------------------------------------------------

pub fn echo_strings(v: []const []const u8) []const []const u8 {
    return v;
}
pub fn join_strings(v: []const []const u8, sep: []const u8) []const u8 {
    return std.mem.join(marine.allocator(), sep, v) catch @trap();
}
pub fn echo_byte_vectors(v: []const []const u8) []const []const u8 {
    return v;
}
pub fn echo_u64s(v: []const u64) []const u64 {
    return marine.dupe(u64, v);
}
pub fn sum_u64s(v: []const u64) u64 {
    var total: u64 = 0;
    for (v) |item| total +%= item;
    return total;
}
pub fn echo_vectors(v: iface.Vectors) iface.Vectors {
    return v;
}

// --- records -----------------------------------------------------------------------------------------

pub fn echo_outer(v: iface.Outer) iface.Outer {
    return v;
}
pub fn describe_inner(v: iface.Inner) []const u8 {
    return marine.print("{}:{d}:{s}", .{ v.flag, v.n, v.label });
}
pub fn echo_inners(v: []const iface.Inner) []const iface.Inner {
    return v;
}
pub fn echo_tree(v: iface.Tree) iface.Tree {
    return v;
}
/// children + their tags and data bytes + the records of the matrix.
pub fn count_tree(v: iface.Tree) u64 {
    var total: u64 = v.children.len;
    for (v.children) |child| total += child.tags.len + child.data.len;
    for (v.matrix) |row| total += row.len;
    return total;
}

// --- unit results and state --------------------------------------------------------------------------

var counter: u64 = 0;

pub fn set_counter(v: u64) void {
    counter = v;
}
pub fn get_counter() u64 {
    return counter;
}
pub fn nothing() void {}

// --- host facilities ---------------------------------------------------------------------------------

pub fn call_parameters() iface.CallParameters {
    return marine.callParameters();
}

pub fn log_message(level: u8, msg: []const u8) void {
    switch (level) {
        1 => marine.log.err("{s}", .{msg}),
        2 => marine.log.warn("{s}", .{msg}),
        3 => marine.log.info("{s}", .{msg}),
        4 => marine.log.debug("{s}", .{msg}),
        else => marine.log.trace("{s}", .{msg}),
    }
}

// --- failure cases -----------------------------------------------------------------------------------

pub fn trap(reason: []const u8) []const u8 {
    marine.log.err("trapping on request: {s}", .{reason});
    @trap();
}

pub fn loop_forever() u64 {
    var spins: u64 = 0;
    const volatile_spins: *volatile u64 = &spins;
    while (true) volatile_spins.* +%= 1;
}

/// Allocate and touch `mib` MiB in the call arena; exhausting memory fails the call (an error -> trap).
pub fn allocate_mib(mib: u32) !u32 {
    const bytes = try marine.allocator().alloc(u8, @as(usize, mib) * 1024 * 1024);
    @memset(bytes, 0xab);
    return @intCast(bytes.len / (1024 * 1024));
}

pub fn fail_with_error() error{DeliberateFailure}![]const u8 {
    return error.DeliberateFailure;
}

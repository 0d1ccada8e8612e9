//! marine.zig: the guest side of the Marine ABI (marine-rs-sdk 0.14) for Zig modules.
//!
//! A module is a directory wasm/<name>/ with `interface.toml` (the functions it exports, the records it
//! uses, the functions it imports from other modules or mounted binaries) and `main.zig` (the code).
//! `fluence-dao build` generates the rest from interface.toml: the raw `export fn` wrappers that turn
//! ABI values into Zig values and back, a module named "interface" with the record structs and typed
//! wrappers for imported functions, and the `__m_generated_section__*`, `__fluence_sdk_version` and
//! `interface-types` custom sections. So a module writes only ordinary Zig functions:
//!
//!     // wasm/greeter/interface.toml
//!     [records.Greeting]
//!     text = "String"
//!     count = "u32"
//!     [functions.greet]
//!     args = { name = "&str", times = "u32" }
//!     output = "Greeting"
//!
//!     // wasm/greeter/main.zig
//!     const marine = @import("marine");
//!     const iface = @import("interface");
//!     pub fn greet(name: []const u8, times: u32) iface.Greeting {
//!         return .{ .text = marine.print("hello, {s}", .{name}), .count = times };
//!     }
//!
//! Types (interface.toml spelling -> Zig type of arguments, results and record fields):
//!   bool -> bool; i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 -> the same; String and &str -> []const u8;
//!   Vec<u8> -> []const u8; Vec<T> -> []const T (nested freely: Vec<Vec<u8>> -> []const []const u8);
//!   a record name -> the struct `iface.Name` (fields in interface.toml order).
//! An exported function may also return an error union (`!T`): an error is logged at level error and
//! the call traps, which the host reports as a failed call. Prefer result records (success/error fields)
//! for failures callers should handle. Imports are typed functions in `iface.<namespace>`, e.g.
//! `iface.host.curl(args)` or `iface.other_module.fn(...)`; their results live like arguments (until the
//! end of the call). Global variables of the module keep their values between calls (and across traps
//! in our host and in marine-js).
//! Values above 2^31-1 in scalar u32 (2^63-1 in u64) arguments/results fail in marine's own runtimes
//! (its interface-types casts refuse them); inside vectors and records they are fine.
//!
//! Memory rules (the same as marine-rs-sdk's generated code):
//!   - Arguments are owned by the module: the host writes them into buffers it got from `allocate`.
//!     They stay valid for the whole call and until the host next calls `release_objects` or the next
//!     exported function starts; then they are freed with the size and alignment they were allocated
//!     with (kept in an 8-byte header in front of each buffer). So a function may return (a slice of) an
//!     argument unchanged.
//!   - Everything a function allocates with `marine.allocator()` (or `print`, `dupe`) lives in the call
//!     arena, which is reset at the same moments. Return slices from the arena, from static data or from
//!     arguments; never from the stack.
//!   - `release_objects` is a no-op while an exported function runs: marine's interface-types adapter
//!     calls the caller's `release_objects` after lifting the arguments of an import call, in the middle
//!     of the caller's function, and the caller's data must survive that.
//!   - `allocate` returns 0 for a zero count, an unknown type tag, an overflowing size, and when memory is
//!     exhausted; the host must then fail the call instead of writing to address 0.
//!
//! Public API for module code:
//!   allocator() std.mem.Allocator         the call arena (valid until the host has read the result)
//!   print(fmt, args) []const u8            formatted text in the call arena
//!   dupe(T, slice) []const T                a copy in the call arena
//!   log.err / warn / info / debug / trace(fmt, args)
//!                                           `__marine_host_api_v3.log_utf8_string(level, target 0, ptr, len)`
//!   callParameters() CallParameters        `__marine_host_api_v3.get_call_parameters()` (the import name;
//!                                           the sdk's Rust function is get_call_raw_parameters), read back
//!                                           through `get_result_ptr` as an sdk 0.14 CallParameters record;
//!                                           its slices are valid until the end of the call
//!   CallParameters, ParticleParameters, SecurityTetraplet, MountedBinaryResult, MountedBinaryStringResult:
//!                                           the sdk's records; interface.toml may use them without defining them
//! The rest of the pub declarations (beginCall, lift*, lower*, return*, ...) are used by generated code.

const std = @import("std");

/// Panics become traps and pull in no WASI imports (the generated root file re-exports this).
pub const panic = std.debug.no_panic;

// --- records defined by marine-rs-sdk 0.14 -----------------------------------------------------------

pub const SecurityTetraplet = struct {
    peer_pk: []const u8,
    service_id: []const u8,
    function_name: []const u8,
    lens: []const u8,
};

pub const ParticleParameters = struct {
    id: []const u8,
    init_peer_id: []const u8,
    timestamp: u64,
    ttl: u32,
    script: []const u8,
    signature: []const u8,
    token: []const u8,
};

pub const CallParameters = struct {
    particle: ParticleParameters,
    service_id: []const u8,
    service_creator_peer_id: []const u8,
    host_id: []const u8,
    worker_id: []const u8,
    tetraplets: []const []const SecurityTetraplet,
};

pub const MountedBinaryResult = struct {
    ret_code: i32,
    @"error": []const u8,
    stdout: []const u8,
    stderr: []const u8,
};

pub const MountedBinaryStringResult = struct {
    ret_code: i32,
    @"error": []const u8,
    stdout: []const u8,
    stderr: []const u8,
};

// --- allocation and the ABI exports ------------------------------------------------------------------

const backing = std.heap.wasm_allocator;
const header_size = 8;
const header_magic: u32 = 0x4d52_4e41; // marks buffers handed out by `allocate`
const buffer_alignment = std.mem.Alignment.@"8";

var result_ptr: u32 = 0;
var result_size: u32 = 0;
var arena_state = std.heap.ArenaAllocator.init(backing);
var owned: std.ArrayList(u32) = .empty; // argument buffers to free at the next release
var in_call = false;

fn elementSize(type_tag: u32) ?u32 {
    return switch (type_tag) {
        0, 1, 5 => 1, // bool, u8, i8
        2, 6 => 2, // u16, i16
        3, 7, 9 => 4, // u32, i32, f32
        4, 8, 10 => 8, // u64, i64, f64
        else => null,
    };
}

/// `allocate(elem_count, elem_ty)`: a buffer for `elem_count` elements of the type with tag `elem_ty`.
export fn allocate(elem_count: u32, elem_ty: u32) u32 {
    if (elem_count == 0) return 0;
    const size = elementSize(elem_ty) orelse return 0;
    const bytes = std.math.mul(u32, elem_count, size) catch return 0;
    const total = std.math.add(u32, bytes, header_size) catch return 0;
    const raw = backing.rawAlloc(total, buffer_alignment, @returnAddress()) orelse return 0;
    std.mem.writeInt(u32, raw[0..4], bytes, .little);
    std.mem.writeInt(u32, raw[4..8], header_magic, .little);
    return @intCast(@intFromPtr(raw) + header_size);
}

fn freeBuffer(ptr: u32) void {
    if (ptr < header_size) return;
    const raw: [*]u8 = @ptrFromInt(ptr - header_size);
    if (std.mem.readInt(u32, raw[4..8], .little) != header_magic) return; // not ours: leak, never corrupt
    const bytes = std.mem.readInt(u32, raw[0..4], .little);
    raw[4] = 0; // a second free of the same buffer is then ignored
    backing.rawFree(raw[0 .. bytes + header_size], buffer_alignment, @returnAddress());
}

fn release() void {
    for (owned.items) |ptr| freeBuffer(ptr);
    owned.clearRetainingCapacity();
    _ = arena_state.reset(.{ .retain_with_limit = 64 * 1024 });
}

export fn release_objects() void {
    if (!in_call) release();
}

export fn get_result_ptr() u32 {
    return result_ptr;
}

export fn get_result_size() u32 {
    return result_size;
}

export fn set_result_ptr(ptr: u32) void {
    result_ptr = ptr;
}

export fn set_result_size(size: u32) void {
    result_size = size;
}

/// Referenced by the generated root file so the ABI exports are always compiled in.
pub const abi_exports = .{ &allocate, &release_objects, &get_result_ptr, &get_result_size, &set_result_ptr, &set_result_size };

// --- API for module code -----------------------------------------------------------------------------

/// The call arena: memory that stays valid until the host has read the current call's result.
pub fn allocator() std.mem.Allocator {
    return arena_state.allocator();
}

fn outOfMemory() noreturn {
    @trap();
}

/// Formatted text in the call arena (traps when memory is exhausted).
pub fn print(comptime fmt: []const u8, args: anytype) []const u8 {
    return std.fmt.allocPrint(allocator(), fmt, args) catch outOfMemory();
}

/// A copy of `items` in the call arena.
pub fn dupe(comptime T: type, items: []const T) []const T {
    return allocator().dupe(T, items) catch outOfMemory();
}

const host_api = struct {
    extern "__marine_host_api_v3" fn log_utf8_string(level: i32, target: i32, msg_ptr: u32, msg_size: u32) void;
    extern "__marine_host_api_v3" fn get_call_parameters() void;
};

pub const log = struct {
    pub fn err(comptime fmt: []const u8, args: anytype) void {
        write(1, fmt, args);
    }
    pub fn warn(comptime fmt: []const u8, args: anytype) void {
        write(2, fmt, args);
    }
    pub fn info(comptime fmt: []const u8, args: anytype) void {
        write(3, fmt, args);
    }
    pub fn debug(comptime fmt: []const u8, args: anytype) void {
        write(4, fmt, args);
    }
    pub fn trace(comptime fmt: []const u8, args: anytype) void {
        write(5, fmt, args);
    }
    fn write(level: i32, comptime fmt: []const u8, args: anytype) void {
        var buffer: [1024]u8 = undefined;
        const msg = std.fmt.bufPrint(&buffer, fmt, args) catch blk: {
            const long = std.fmt.allocPrint(allocator(), fmt, args) catch return;
            break :blk long;
        };
        host_api.log_utf8_string(level, 0, @intCast(@intFromPtr(msg.ptr)), @intCast(msg.len));
    }
};

/// The parameters of the current call, as the host passes them (sdk 0.14 layout).
pub fn callParameters() CallParameters {
    host_api.get_call_parameters();
    return liftRecord(CallParameters, result_ptr);
}

// --- used by the generated code: calls ---------------------------------------------------------------

/// Start of every exported function: frees the previous call's arguments and arena.
pub fn beginCall() void {
    release();
    in_call = true;
}

pub fn endCall() void {
    in_call = false;
}

/// The value of a function's result, trapping (after logging) if it is an error.
pub fn unwrap(comptime T: type, comptime function: []const u8, value: anytype) T {
    const V = @TypeOf(value);
    if (@typeInfo(V) == .error_union) {
        const ok = value catch |e| {
            log.err("{s} failed: {s}", .{ function, @errorName(e) });
            @trap();
        };
        return ok;
    }
    return value;
}

// --- used by the generated code: scalars -------------------------------------------------------------

/// The wasm type that carries a scalar of type T across the ABI.
pub fn Raw(comptime T: type) type {
    return switch (@typeInfo(T)) {
        .bool => i32,
        .int => |info| if (info.bits <= 32) i32 else i64,
        .float => T,
        else => @compileError("not a Marine scalar: " ++ @typeName(T)),
    };
}

pub fn fromRaw(comptime T: type, raw: Raw(T)) T {
    return switch (@typeInfo(T)) {
        .bool => raw != 0,
        .int => |info| blk: {
            const U = @Int(.unsigned, info.bits);
            const RawU = @Int(.unsigned, @bitSizeOf(Raw(T)));
            const bits: U = @truncate(@as(RawU, @bitCast(raw)));
            break :blk @bitCast(bits);
        },
        .float => raw,
        else => unreachable,
    };
}

pub fn toRaw(comptime T: type, value: T) Raw(T) {
    return switch (@typeInfo(T)) {
        .bool => @intFromBool(value),
        .int => |info| if (info.signedness == .signed) @as(Raw(T), value) else blk: {
            const RawU = @Int(.unsigned, @bitSizeOf(Raw(T)));
            break :blk @bitCast(@as(RawU, value));
        },
        .float => value,
        else => unreachable,
    };
}

// --- used by the generated code: lifting (host -> module) --------------------------------------------

fn own(ptr: u32) void {
    if (ptr != 0) owned.append(backing, ptr) catch {}; // on OOM the buffer is leaked, never freed early
}

fn isScalar(comptime T: type) bool {
    return switch (@typeInfo(T)) {
        .int, .float => true,
        else => false,
    };
}

fn sliceChild(comptime S: type) type {
    const info = @typeInfo(S);
    if (info != .pointer or info.pointer.size != .slice) @compileError("not a Marine vector type: " ++ @typeName(S));
    return info.pointer.child;
}

/// A vector (or string) the host wrote at (ptr, len); `len` counts elements.
pub fn liftSlice(comptime S: type, ptr: u32, len: u32) S {
    const C = sliceChild(S);
    own(ptr);
    if (len == 0 or ptr == 0) return &.{};
    if (comptime isScalar(C)) {
        if (ptr % @alignOf(C) == 0) {
            const items: [*]const C = @ptrFromInt(ptr);
            return items[0..len];
        }
        const bytes: [*]const u8 = @ptrFromInt(ptr);
        const copy = allocator().alloc(C, len) catch outOfMemory();
        @memcpy(std.mem.sliceAsBytes(copy), bytes[0 .. len * @sizeOf(C)]);
        return copy;
    }
    const bytes: [*]const u8 = @ptrFromInt(ptr);
    const out = allocator().alloc(C, len) catch outOfMemory();
    switch (@typeInfo(C)) {
        .bool => for (out, 0..) |*item, i| {
            item.* = bytes[i] != 0;
        },
        .pointer => for (out, 0..) |*item, i| {
            item.* = liftSlice(C, readU32(bytes + 8 * i), readU32(bytes + 8 * i + 4));
        },
        .@"struct" => for (out, 0..) |*item, i| {
            item.* = liftRecord(C, readU32(bytes + 4 * i));
        },
        else => @compileError("not a Marine vector element: " ++ @typeName(C)),
    }
    return out;
}

fn readU32(at: [*]const u8) u32 {
    return std.mem.readInt(u32, at[0..4], .little);
}

fn writeU32(at: [*]u8, value: u32) void {
    std.mem.writeInt(u32, at[0..4], value, .little);
}

/// The size of a record's serialized form: fields packed in order, no padding.
pub fn recordSize(comptime T: type) usize {
    comptime var size: usize = 0;
    inline for (@typeInfo(T).@"struct".field_types) |F| size += fieldSize(F);
    return size;
}

fn fieldSize(comptime F: type) usize {
    return switch (@typeInfo(F)) {
        .bool => 1,
        .int => |info| info.bits / 8,
        .float => |info| info.bits / 8,
        .pointer => 8,
        .@"struct" => 4,
        else => @compileError("not a Marine record field type: " ++ @typeName(F)),
    };
}

/// A record the host wrote at `ptr` (its fields packed, little endian; vectors as (ptr, len) pairs,
/// nested records as pointers).
pub fn liftRecord(comptime T: type, ptr: u32) T {
    own(ptr);
    var value: T = undefined;
    if (ptr == 0) @trap();
    const bytes: [*]const u8 = @ptrFromInt(ptr);
    comptime var offset: usize = 0;
    const info = @typeInfo(T).@"struct";
    inline for (info.field_names, info.field_types) |name, F| {
        const at = bytes + offset;
        @field(value, name) = switch (@typeInfo(F)) {
            .bool => at[0] != 0,
            .int, .float => blk: {
                const U = @Int(.unsigned, @bitSizeOf(F));
                break :blk @bitCast(std.mem.readInt(U, at[0..@sizeOf(U)], .little));
            },
            .pointer => liftSlice(F, readU32(at), readU32(at + 4)),
            .@"struct" => liftRecord(F, readU32(at)),
            else => unreachable,
        };
        offset += comptime fieldSize(F);
    }
    return value;
}

/// The result of an import call that returned a vector or string (read through get_result_ptr/size).
pub fn liftResultSlice(comptime S: type) S {
    return liftSlice(S, result_ptr, result_size);
}

/// The result of an import call that returned a record (read through get_result_ptr).
pub fn liftResultRecord(comptime T: type) T {
    return liftRecord(T, result_ptr);
}

// --- used by the generated code: lowering (module -> host) -------------------------------------------

pub const RawSlice = struct { ptr: u32, len: u32 };

fn address(ptr: anytype) u32 {
    return @intCast(@intFromPtr(ptr));
}

/// A vector in the form the host reads: scalars in place, bools as bytes, strings and vectors as
/// (ptr, len) pairs, records as pointers to their serialized form. New buffers live in the call arena.
pub fn lowerSlice(comptime S: type, items: S) RawSlice {
    const C = sliceChild(S);
    if (items.len == 0) return .{ .ptr = 0, .len = 0 };
    const len: u32 = @intCast(items.len);
    if (comptime isScalar(C)) return .{ .ptr = address(items.ptr), .len = len };
    switch (@typeInfo(C)) {
        .bool => {
            const out = allocator().alloc(u8, items.len) catch outOfMemory();
            for (items, out) |item, *byte| byte.* = @intFromBool(item);
            return .{ .ptr = address(out.ptr), .len = len };
        },
        .pointer => {
            const out = allocator().alignedAlloc(u8, .@"4", 8 * items.len) catch outOfMemory();
            for (items, 0..) |item, i| {
                const inner = lowerSlice(C, item);
                writeU32(out.ptr + 8 * i, inner.ptr);
                writeU32(out.ptr + 8 * i + 4, inner.len);
            }
            return .{ .ptr = address(out.ptr), .len = len };
        },
        .@"struct" => {
            const out = allocator().alignedAlloc(u8, .@"4", 4 * items.len) catch outOfMemory();
            for (items, 0..) |item, i| writeU32(out.ptr + 4 * i, lowerRecord(C, item));
            return .{ .ptr = address(out.ptr), .len = len };
        },
        else => @compileError("not a Marine vector element: " ++ @typeName(C)),
    }
}

/// A record serialized in the call arena; returns its address.
pub fn lowerRecord(comptime T: type, value: T) u32 {
    const size = comptime recordSize(T);
    const out = allocator().alignedAlloc(u8, .@"8", @max(size, 1)) catch outOfMemory();
    comptime var offset: usize = 0;
    const info = @typeInfo(T).@"struct";
    inline for (info.field_names, info.field_types) |name, F| {
        const at = out.ptr + offset;
        const item = @field(value, name);
        switch (@typeInfo(F)) {
            .bool => at[0] = @intFromBool(item),
            .int, .float => {
                const U = @Int(.unsigned, @bitSizeOf(F));
                std.mem.writeInt(U, at[0..@sizeOf(U)], @bitCast(item), .little);
            },
            .pointer => {
                const inner = lowerSlice(F, item);
                writeU32(at, inner.ptr);
                writeU32(at + 4, inner.len);
            },
            .@"struct" => writeU32(at, lowerRecord(F, item)),
            else => unreachable,
        }
        offset += comptime fieldSize(F);
    }
    return address(out.ptr);
}

/// Hand a vector or string result to the host (get_result_ptr / get_result_size).
pub fn returnSlice(comptime S: type, items: S) void {
    const raw = lowerSlice(S, items);
    result_ptr = raw.ptr;
    result_size = raw.len;
}

/// Hand a record result to the host (get_result_ptr).
pub fn returnRecord(comptime T: type, value: T) void {
    result_ptr = lowerRecord(T, value);
}

//! The effector of the pingpong test service: plain functions over strings and a record.
const marine = @import("marine");
const iface = @import("interface");

/// Hit the ball once: append `shout` to its text and trail and count the hit.
pub fn ping(ball: iface.Ball, shout: []const u8) iface.Ball {
    const trail = marine.allocator().alloc([]const u8, ball.trail.len + 1) catch @trap();
    @memcpy(trail[0..ball.trail.len], ball.trail);
    trail[ball.trail.len] = shout;
    return .{ .text = marine.print("{s} {s}", .{ ball.text, shout }), .hits = ball.hits + 1, .trail = trail };
}

pub fn greeting(name: []const u8) []const u8 {
    return marine.print("hello, {s}", .{name});
}

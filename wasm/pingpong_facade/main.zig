//! The facade of the pingpong test service: every function calls into the effector module.
const marine = @import("marine");
const iface = @import("interface");
const effector = iface.pingpong_effector;

/// Start a ball with `text` and let the effector hit it once per shout.
pub fn rally(text: []const u8, shouts: []const []const u8) iface.Ball {
    var ball: iface.Ball = .{ .text = text, .hits = 0, .trail = &.{} };
    for (shouts) |shout| ball = effector.ping(ball, shout);
    return ball;
}

/// The effector's greeting, and its greeting of that greeting.
pub fn greet_twice(name: []const u8) []const []const u8 {
    const first = effector.greeting(name);
    const second = effector.greeting(first);
    const out = marine.allocator().alloc([]const u8, 2) catch @trap();
    out[0] = first;
    out[1] = second;
    return out;
}

/// The service id from the call parameters the host passed for this call.
pub fn service_id() []const u8 {
    return marine.callParameters().service_id;
}

/// The Redis Lua scripts: the four algorithms of `Algorithms` ported to Lua, deciding exactly as
/// the memory store does, with time in integer microseconds instead of nanoseconds, and the
/// leases of `concurrency` rules (acquire and release, as `Algorithms.lease` and `LeaseSet`).
///
/// The text lives in `Lua/*.lua`, embedded at build time (`resources: [.embedInCode("Lua")]` in
/// Package.swift makes each file a `PackageResources.<name>_lua` byte array), so the bytes in
/// those files are exactly what Redis runs. A script is its fragments joined with a blank line,
/// in the order listed below: a header (the KEYS/ARGV/reply contract), the prelude, the
/// algorithm functions it needs, and a main.
///
/// To add a script: put its fragments in `Lua/` (a header with its contract and a main, plus any
/// new shared functions), add a case to `Script` (RedisScripts.swift) and list its fragments in
/// `fragments(of:)` below. `sluice lua-script NAME` prints a composed script.
enum LuaScripts {
    /// The fragments that make `script`, in order.
    static func fragments(of script: Script) -> [[UInt8]] {
        let algorithms = [
            PackageResources.token_bucket_lua, PackageResources.sliding_window_lua, PackageResources.fixed_window_lua,
            PackageResources.leaky_bucket_lua,
        ]
        return switch script {
        case .tokenBucket:
            [PackageResources.single_header_lua, PackageResources.prelude_lua, PackageResources.gcra_state_lua, PackageResources.token_bucket_lua, PackageResources.single_main_lua]
        case .slidingWindow:
            [PackageResources.single_header_lua, PackageResources.prelude_lua, PackageResources.sliding_window_lua, PackageResources.single_main_lua]
        case .fixedWindow:
            [PackageResources.single_header_lua, PackageResources.prelude_lua, PackageResources.fixed_window_lua, PackageResources.single_main_lua]
        case .leakyBucket:
            [PackageResources.single_header_lua, PackageResources.prelude_lua, PackageResources.gcra_state_lua, PackageResources.leaky_bucket_lua, PackageResources.single_main_lua]
        case .batch:
            [PackageResources.batch_header_lua, PackageResources.prelude_lua, PackageResources.gcra_state_lua] + algorithms + [PackageResources.batch_main_lua]
        case .multi:
            [PackageResources.multi_header_lua, PackageResources.prelude_lua, PackageResources.gcra_state_lua] + algorithms + [PackageResources.multi_main_lua]
        case .report:
            [PackageResources.report_header_lua, PackageResources.prelude_lua, PackageResources.gcra_state_lua] + algorithms
                + [PackageResources.report_functions_lua, PackageResources.report_main_lua]
        case .leaseAcquire:
            [PackageResources.lease_acquire_header_lua, PackageResources.prelude_lua, PackageResources.lease_functions_lua, PackageResources.lease_acquire_main_lua]
        case .leaseRelease:
            [PackageResources.lease_release_header_lua, PackageResources.prelude_lua, PackageResources.lease_functions_lua, PackageResources.lease_release_main_lua]
        }
    }

    /// The script's text: its fragments joined with a blank line (each file ends with one newline).
    static func source(of script: Script) -> String {
        String(decoding: Array(fragments(of: script).joined(separator: [UInt8(ascii: "\n")])), as: UTF8.self)
    }
}

import ArgumentParser
import RateLimitRedis
import SluiceApp

/// `sluice lua-script NAME`: prints one of the embedded Redis Lua scripts, byte for byte as the
/// Redis store loads it (scripts/bench feeds it to redis-benchmark). Hidden from the help.
struct LuaScript: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lua-script", abstract: "Print an embedded Redis Lua script.", shouldDisplay: false)

    @Argument(help: "The script: tokenBucket, slidingWindow, fixedWindow, leakyBucket, batch, multi or report.")
    var name: String

    func run() throws {
        guard let source = RedisStore.scriptSource(named: name) else {
            printError("unknown script \(name); one of: \(RedisStore.scriptNames.joined(separator: ", "))")
            throw ExitCode(1)
        }
        print(source, terminator: "")
    }
}

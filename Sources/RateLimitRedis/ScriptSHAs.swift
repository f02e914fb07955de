import Synchronization

/// The SHA1 of each script, as `SCRIPT LOAD` reported it (the same on every connection).
final class ScriptSHAs: Sendable {
    private let known = Mutex<[Script: String]>([:])

    subscript(script: Script) -> String? { known.withLock { $0[script] } }

    func learn(_ replies: some Sequence<(Script, RESPValue)>) {
        known.withLock { known in
            for (script, reply) in replies {
                if case .bulkString(let sha?) = reply { known[script] = String(buffer: sha) }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import SluiceApp
import Testing

/// The listeners bind concurrently with a private umask: however their binds overlap, the
/// process's umask is what it was once they are done (0o177 left behind would make every
/// later file and directory owner-only, directories unusable).
@Suite(.serialized) struct PrivateBindTests {
    /// A enters, B enters, A leaves, B leaves: the order a per-call save and restore gets
    /// wrong (A would put back the private umask B saved). Only the last one restores.
    @Test func overlappingBindsPutTheUmaskBackOnceTheLastEnds() {
        var binds = PrivateBinds()
        let first = binds.enter()
        binds.saved = 0o022
        let second = binds.enter()
        let firstLeaves = binds.leave()
        let secondLeaves = binds.leave()
        let later = binds.enter()
        #expect(first)
        #expect(!second, "the second bind leaves the umask private as it is")
        #expect(firstLeaves == nil, "still private: the second bind runs")
        #expect(secondLeaves == 0o022)
        #expect(later, "a later bind is a first one again")
    }

    /// The real umask while two binds overlap. Other tests' apps bind in this process too, so
    /// only "private while any bind runs" holds without racing them.
    @Test func theUmaskIsPrivateWhileBindsOverlap() async throws {
        let (entered, didEnter) = AsyncStream<Void>.makeStream()
        let (releaseFirst, letFirstGo) = AsyncStream<Void>.makeStream()
        let (releaseSecond, letSecondGo) = AsyncStream<Void>.makeStream()
        var arrivals = entered.makeAsyncIterator()
        async let first: Void = UnixSocketPath.bindingPrivately {
            didEnter.yield()
            for await _ in releaseFirst { break }
        }
        _ = await arrivals.next()
        async let second: Void = UnixSocketPath.bindingPrivately {
            didEnter.yield()
            for await _ in releaseSecond { break }
        }
        _ = await arrivals.next()
        #expect(try currentUmask() == 0o177, "private while any bind runs")
        letFirstGo.yield()
        try await first
        #expect(try currentUmask() == 0o177, "still private: the second bind runs")
        letSecondGo.yield()
        try await second
    }

    /// Read from /proc, not by setting it (which would race the other tests' binds).
    private func currentUmask() throws -> mode_t? {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }) else { return nil }
        return mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8)
    }
}

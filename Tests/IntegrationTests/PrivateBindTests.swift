#if canImport(Glibc)
import Glibc
#endif
import SluiceApp
import Testing

/// The listeners bind concurrently with a private umask: however their binds overlap, the
/// process's umask is what it was once they are done (0o177 left behind would make every
/// later file and directory owner-only, directories unusable).
@Suite(.serialized) struct PrivateBindTests {
    @Test func overlappingBindsPutTheUmaskBack() async throws {
        let original = umask(0o022)
        defer { umask(original) }
        let (entered, didEnter) = AsyncStream<Void>.makeStream()
        let (releaseFirst, letFirstGo) = AsyncStream<Void>.makeStream()
        let (releaseSecond, letSecondGo) = AsyncStream<Void>.makeStream()
        var arrivals = entered.makeAsyncIterator()
        // A enters, B enters, A leaves, B leaves: the order a per-call save and restore gets wrong.
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
        #expect(currentUmask() == 0o177, "private while any bind runs")
        letFirstGo.yield()
        try await first
        #expect(currentUmask() == 0o177, "still private: the second bind runs")
        letSecondGo.yield()
        try await second
        #expect(currentUmask() == 0o022)
    }

    private func currentUmask() -> mode_t {
        let mask = umask(0o022)
        umask(mask)
        return mask
    }
}

import SluiceApp
import Testing

/// The config watcher's debounce (`SettledChange`), without a file.
@Suite struct ConfigWatcherTests {
    /// F16: a change counts once the same new contents were read twice in a row.
    @Test func aChangeCountsOnceItHasSettled() {
        var settle = SettledChange<String?>(loaded: "v1")
        let polls: [String?] = ["v1", "v2-half", "v2-full", "v2-full", "v2-full", nil, "v2-full", "v3", "v2-full", "v2-full"]
        let reloads = polls.map { settle.observe($0) }
        // A write in progress, still changing, settled (reload), loaded; the file vanished for one
        // poll (a rename) and came back unchanged; flipped to v3 and back before settling.
        #expect(reloads == [false, false, false, true, false, false, false, false, false, false])
    }
}

import RateLimitCore
import Testing

/// `SmallArray`, the list Envoy requests decode into: no array for zero or one element, an
/// array beyond, and the same elements in order either way.
@Suite struct SmallArrayTests {
    @Test func appendsKeepOrderAcrossEveryShape() {
        var list = SmallArray<Int>()
        #expect(list.isEmpty)
        for n in 1...5 {
            list.append(n)
            #expect(Array(list) == Array(1...n))
            #expect(list.count == n && list.last == n)
        }
        guard case .many = list else {
            Issue.record("five elements are held in an array")
            return
        }
    }

    @Test func oneElementNeedsNoArray() {
        var list = SmallArray<String>()
        list.append("user")
        guard case .one("user") = list else {
            Issue.record("one element is held inline")
            return
        }
        #expect(Array(list[0..<1]) == ["user"])
    }

    @Test func equalityIsByElementsNotByShape() {
        var appended = SmallArray<Int>()
        appended.append(7)
        #expect(appended == SmallArray.many([7]))
        #expect(SmallArray<Int>.none == SmallArray.many([]))
        #expect(appended != SmallArray.many([7, 8]))
    }
}

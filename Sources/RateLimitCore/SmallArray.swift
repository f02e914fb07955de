/// An append-only list that holds zero or one element without a heap allocation, and an array
/// beyond that: the shape of most Envoy requests (one descriptor of one entry), decoded per call.
public enum SmallArray<Element> {
    case none
    case one(Element)
    case many([Element])

    @inlinable public init() { self = .none }

    @inlinable public mutating func append(_ element: Element) {
        switch self {
        case .none:
            self = .one(element)
        case .one(let first):
            self = .many([first, element])
        case .many(var elements):
            self = .none  // the array stays uniquely referenced while it grows
            elements.append(element)
            self = .many(elements)
        }
    }
}

extension SmallArray: RandomAccessCollection {
    @inlinable public var startIndex: Int { 0 }

    @inlinable public var endIndex: Int {
        switch self {
        case .none: 0
        case .one: 1
        case .many(let elements): elements.count
        }
    }

    @inlinable public subscript(position: Int) -> Element {
        switch self {
        case .one(let element) where position == 0: element
        case .many(let elements): elements[position]
        default: preconditionFailure("SmallArray index \(position) out of range")
        }
    }
}

extension SmallArray: Equatable where Element: Equatable {
    /// Equal elements in the same order, however they are stored.
    @inlinable public static func == (a: Self, b: Self) -> Bool { a.elementsEqual(b) }
}

extension SmallArray: Sendable where Element: Sendable {}

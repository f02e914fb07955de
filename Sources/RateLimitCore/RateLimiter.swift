import Synchronization

/// One "may `key` spend `cost` under `rule`?" question.
public struct CheckRequest: Sendable, Hashable {
    public var rule: String
    public var key: String
    public var cost: Int64

    public init(rule: String, key: String, cost: Int64 = 1) {
        self.rule = rule
        self.key = key
        self.cost = cost
    }
}

/// The answer to a batch: allowed only if every check allowed; a denied batch consumes nothing.
public struct BatchDecision: Sendable, Hashable {
    public var allowed: Bool
    public var decisions: [Decision]

    public init(allowed: Bool, decisions: [Decision]) {
        self.allowed = allowed
        self.decisions = decisions
    }
}

/// One committed decision of one rule, as its recorder sees it.
public struct DecisionEvent: Sendable {
    /// The request's final verdict (the batch's, in a batch).
    public var allowed: Bool
    /// This rule's limit denied it.
    public var limitHit: Bool
    /// A shadow rule would have denied it.
    public var shadowDenied: Bool
    /// Units left.
    public var remaining: Int64
    public var key: String
    /// The key's hash (FNV-1a of its UTF-8 bytes), computed once per check.
    public var keyHash: UInt64
    public var now: Nanoseconds
}

/// Receives every committed decision of one rule (metrics and top keys live behind this).
public protocol DecisionRecorder: Sendable {
    func record(_ event: DecisionEvent)
    /// The rule's heaviest keys as of `now`; nil when the recorder keeps none.
    func topKeys(by ranking: TopKeys.Ranking, n: Int, now: Nanoseconds) -> TopKeys.Report?
    /// One report recorded (not a duplicate) with `cost` units (negative: a refund).
    func reported(cost: Int64)
}

extension DecisionRecorder {
    public func topKeys(by ranking: TopKeys.Ranking, n: Int, now: Nanoseconds) -> TopKeys.Report? { nil }
    public func reported(cost: Int64) {}
}

/// The decision engine: rules + a store + a clock. Thread-safe; decisions are synchronous.
public final class RateLimiter: Sendable {
    /// Longest key, in UTF-8 bytes.
    public static let maxKeyBytes = 1024
    /// Most checks in one batch.
    public static let maxBatch = 64

    /// A rule as installed: its table slot and its recorder.
    final class Installed: Sendable {
        let rule: Rule
        let slot: Int
        let recorder: (any DecisionRecorder)?
        /// Copied out of `rule` so the hot path touches no dictionary when there are no overrides.
        let limits: Limits
        let hasOverrides: Bool

        init(rule: Rule, slot: Int, recorder: (any DecisionRecorder)?) {
            self.rule = rule
            self.limits = rule.limits
            self.hasOverrides = !rule.overrides.isEmpty
            self.slot = slot
            self.recorder = recorder
        }
    }

    /// What the memory fast path needs of a rule, by value: reading it costs no reference
    /// counting (the `Installed` object is fetched only for overrides or a recorder).
    struct Entry: Sendable {
        let slot: Int
        let limits: Limits
        let shadow: Bool
        /// Overrides or a recorder: the decision needs the `Installed` object.
        let needsInstalled: Bool

        init(_ installed: Installed) {
            slot = installed.slot
            limits = installed.limits
            shadow = installed.rule.shadow
            needsInstalled = installed.hasOverrides || installed.recorder != nil
        }
    }

    struct Snapshot: Sendable {
        var rules: RuleSet
        /// The installed rules in order: a linear scan beats hashing the name for a few rules.
        var list: [Installed]
        /// `list` as values, for the fast path: the names, and what the decision needs.
        var names: [String]
        var entries: [Entry]
        var byName: [String: Installed]
        var bySlot: [Int: Installed]
        var nextSlot: Int
        /// Slots of removed rules, cleared and reusable (red team 2, F9).
        var freeSlots: [Int]
    }

    public let store: MemoryStore
    public let clock: any NanosecondClock
    /// The memory store's report ids (idempotency); a remote store keeps its own.
    public let reportLedger = ReportLedger()
    private let makeRecorder: @Sendable (Rule) -> (any DecisionRecorder)?
    private let rulesInstalled: @Sendable (RuleSet) -> Void
    private let snapshot: Mutex<Snapshot>
    /// Serialises rule changes (admin PUT/DELETE, reloads): each one lands, none is lost
    /// (red team 2, F11). Checks never take it.
    private let writer = Mutex<Void>(())
    /// Whether any installed rule is a concurrency rule: a transport that cannot carry leases
    /// asks this first, without the rule lock.
    let concurrencyInstalled = Atomic<Bool>(false)

    /// - Parameters:
    ///   - makeRecorder: called once per newly installed rule name.
    ///   - rulesInstalled: called after every change with the rules now in force (serialised).
    public init(
        rules: RuleSet, clock: any NanosecondClock, store: MemoryStore = MemoryStore(),
        makeRecorder: @escaping @Sendable (Rule) -> (any DecisionRecorder)? = { _ in nil },
        rulesInstalled: @escaping @Sendable (RuleSet) -> Void = { _ in }
    ) {
        self.store = store
        self.clock = clock
        self.makeRecorder = makeRecorder
        self.rulesInstalled = rulesInstalled
        self.snapshot = Mutex(Snapshot(
            rules: .empty, list: [], names: [], entries: [], byName: [:], bySlot: [:], nextSlot: 0, freeSlots: []))
        replaceRules(rules)
    }

    /// The rules in force.
    public var rules: RuleSet { snapshot.withLock { $0.rules } }

    /// The Envoy descriptor index of the rules in force (without copying the rules out).
    public var descriptors: DescriptorIndex { snapshot.withLock { $0.rules.descriptors } }

    /// Installs `rules`. A rule whose limits are unchanged keeps its keys' state; a changed
    /// rule starts fresh (its state was measured against other limits); a removed rule is dropped.
    public func replaceRules(_ rules: RuleSet) {
        update { (_: RuleSet) throws(Never) -> RuleSet in rules }
    }

    /// Changes the rules as one step: `transform` gets the rules in force and returns the new
    /// ones, with every other change waiting its turn. Throws what `transform` throws, and
    /// then changes nothing.
    @discardableResult
    public func update<E: Error>(_ transform: (RuleSet) throws(E) -> RuleSet) throws(E) -> RuleSet {
        try writer.withLock { _ throws(E) -> RuleSet in
            let current = snapshot.withLock { $0 }
            let rules = try transform(current.rules)
            install(rules, over: current)
            rulesInstalled(rules)
            return rules
        }
    }

    /// Builds the new snapshot outside the rule lock (recorders included), then swaps it in:
    /// checks wait for the swap only, never for the build (red team 2, F5). Linear in the rules.
    private func install(_ rules: RuleSet, over snap: Snapshot) {
        var byName: [String: Installed] = [:]
        byName.reserveCapacity(rules.rules.count)
        var bySlot: [Int: Installed] = [:]
        var freeSlots = snap.freeSlots
        var nextSlot = snap.nextSlot
        var reused: [Int] = []
        let retiring = Set(snap.bySlot.keys)
        for rule in rules.rules {
            let old = snap.byName[rule.name]
            let installed: Installed
            if let old, old.rule == rule {
                installed = old
            } else if let old, old.rule.limitsKeysLike(rule) {
                // Only its descriptors changed: the keys' state still holds.
                installed = Installed(rule: rule, slot: old.slot, recorder: old.recorder)
            } else {
                let slot: Int
                if let free = freeSlots.popLast() {
                    slot = free
                    reused.append(free)
                } else {
                    slot = nextSlot
                    nextSlot += 1
                }
                installed = Installed(rule: rule, slot: slot, recorder: old?.recorder ?? makeRecorder(rule))
            }
            byName[rule.name] = installed
            bySlot[installed.slot] = installed
        }
        // A reused slot is cleared again: a decision that read the old rule just before the
        // last swap may have written one key after the slot was first cleared.
        for slot in reused { store.clear(slot: slot) }
        let dropped = retiring.filter { bySlot[$0] == nil }.sorted()
        let list = rules.rules.compactMap { byName[$0.name] }
        let next = Snapshot(
            rules: rules, list: list, names: list.map(\.rule.name), entries: list.map(Entry.init), byName: byName,
            bySlot: bySlot, nextSlot: nextSlot, freeSlots: freeSlots)
        // Set before a concurrency rule is visible, cleared after the last one is gone.
        let concurrency = rules.rules.contains { $0.limits.algorithm == .concurrency }
        if concurrency { concurrencyInstalled.store(true, ordering: .releasing) }
        snapshot.withLock { $0 = next }
        if !concurrency { concurrencyInstalled.store(false, ordering: .releasing) }
        for slot in dropped { store.clear(slot: slot) }
        // Freed only now, so the next change (not this one) may reuse them.
        snapshot.withLock { $0.freeSlots.append(contentsOf: dropped) }
    }

    /// Rule `name` as installed (byte-exact name), with its store slot.
    func installed(_ name: String) -> Installed? {
        snapshot.withLock { snap in
            if snap.list.count <= 16 { return snap.list.first { Self.sameName($0.rule.name, name) } }
            return snap.byName[name].flatMap { Self.sameName($0.rule.name, name) ? $0 : nil }
        }
    }

    /// The fast path's view of a rule, and its `Installed` object when the entry needs it.
    private func entry(_ name: String) -> (Entry, Installed?)? {
        snapshot.withLock { snap in
            if snap.entries.count <= 16 {
                for i in snap.names.indices where Self.sameName(snap.names[i], name) {
                    return (snap.entries[i], snap.entries[i].needsInstalled ? snap.list[i] : nil)
                }
                return nil
            }
            guard let installed = snap.byName[name], Self.sameName(installed.rule.name, name) else { return nil }
            return (Entry(installed), installed)
        }
    }

    /// Whether a request's rule name is an installed rule's, byte for byte. Rule names are
    /// ASCII, and a string canonically equivalent to an ASCII one but spelled otherwise is
    /// longer in bytes, so equal `String`s of equal byte length are the same bytes: the Kelvin
    /// sign in "\u{212A}afka" never selects rule "Kafka" (red team 2, F14).
    @inline(__always)
    public static func sameName(_ installed: String, _ requested: String) -> Bool {
        installed.utf8.count == requested.utf8.count && installed == requested
    }

    /// A validated check: its rule, the key's policy and the key's hash.
    struct Resolved {
        var installed: Installed
        var policy: OverridePolicy
        var keyHash: UInt64
    }

    func validate(_ request: CheckRequest) throws(CheckError) -> Resolved {
        guard let installed = installed(request.rule) else { throw .unknownRule(request.rule) }
        let (policy, keyHash) = try Self.resolve(request, limits: installed.limits, installed: installed)
        return Resolved(installed: installed, policy: policy, keyHash: keyHash)
    }

    /// The checks every path makes once the rule is known: the key, the cost, the key's policy
    /// (its override, when `installed` has overrides; else `limits`) and the cost against what
    /// that policy can ever grant. Returns the policy and the key's hash.
    @inline(__always)
    private static func resolve(
        _ request: CheckRequest, limits: Limits, installed: Installed?
    ) throws(CheckError) -> (policy: OverridePolicy, keyHash: UInt64) {
        let scan = KeyScan(request.key)
        try validate(scan)
        guard request.cost >= 0 else { throw .negativeCost(request.cost) }
        let policy: OverridePolicy = if let installed, installed.hasOverrides { installed.rule.policy(for: request.key) } else { .limited(limits) }
        if case .limited(let own) = policy, request.cost > own.capacity {
            throw .costExceedsCapacity(cost: request.cost, capacity: own.capacity)
        }
        return (policy, scan.hash)
    }

    /// Checks a key is non-empty, at most `maxKeyBytes` long, and free of control characters.
    public static func validateKey(_ key: String) throws(CheckError) {
        try validate(KeyScan(key))
    }

    private static func validate(_ scan: KeyScan) throws(CheckError) {
        if scan.count == 0 { throw .emptyKey }
        if scan.count > maxKeyBytes { throw .keyTooLong(scan.count) }
        if scan.hasControl { throw .keyHasControlCharacters }
    }

    /// Decides one check and consumes its cost when allowed.
    public func check(_ request: CheckRequest) throws(CheckError) -> Decision {
        try decide(request, commit: true)
    }

    /// The answer `check` would give, consuming nothing and recording nothing.
    public func status(_ request: CheckRequest) throws(CheckError) -> Decision {
        try decide(request, commit: false)
    }

    /// The memory fast path: validates and decides one check, with no reference counting
    /// unless the rule has overrides or a recorder. Inlined so `check` and `status` each get
    /// their own copy with `commit` constant.
    @inline(__always)
    private func decide(_ request: CheckRequest, commit: Bool) throws(CheckError) -> Decision {
        guard let (entry, installed) = entry(request.rule) else { throw .unknownRule(request.rule) }
        let (policy, keyHash) = try Self.resolve(request, limits: entry.limits, installed: installed)
        let now = clock.now
        guard case .limited(let limits) = policy else {
            var decision = Decision(allowed: true, limit: entry.limits.limit, period: entry.limits.period, remaining: entry.limits.limit)
            decision.store = .none
            Self.record(decision, verdict: true, commit: commit, installed?.recorder, request.key, keyHash, now)
            return decision
        }
        var decision = store.decide(
            StoreItem(slot: entry.slot, key: request.key, keyHash: keyHash, limits: limits, cost: request.cost),
            now: now, commit: commit)
        Self.settle(&decision, shadow: entry.shadow)
        Self.record(decision, verdict: decision.allowed, commit: commit, installed?.recorder, request.key, keyHash, now)
        return decision
    }

    /// Shadow handling, for every path and store: a shadow rule's denial is allowed, and marked.
    @inline(__always)
    static func settle(_ decision: inout Decision, shadow: Bool) {
        guard !decision.allowed, shadow else { return }
        decision.allowed = true
        decision.shadowDenied = true
        decision.retryAfter = 0
    }

    /// Recording, for every path and store: `verdict` is the request's final answer (the
    /// batch's, in a batch); the rule's limit was hit when its own decision still denies.
    @inline(__always)
    static func record(
        _ decision: Decision, verdict: Bool, commit: Bool, _ recorder: (any DecisionRecorder)?, _ key: String, _ keyHash: UInt64,
        _ now: Nanoseconds
    ) {
        guard commit, let recorder else { return }
        recorder.record(DecisionEvent(
            allowed: verdict, limitHit: !decision.allowed, shadowDenied: decision.shadowDenied, remaining: decision.remaining,
            key: key, keyHash: keyHash, now: now))
    }

    /// Decides several checks together: allowed only if all allow; a denied batch consumes nothing.
    public func check(batch: [CheckRequest]) throws(CheckError) -> BatchDecision {
        try decide(batch: batch, commit: true)
    }

    /// The answer `check(batch:)` would give, consuming nothing.
    public func status(batch: [CheckRequest]) throws(CheckError) -> BatchDecision {
        try decide(batch: batch, commit: false)
    }

    /// The memory store deciding what `prepare(batch:)` validated, finished like a remote answer.
    private func decide(batch: [CheckRequest], commit: Bool) throws(CheckError) -> BatchDecision {
        let checks = try prepare(batch: batch)
        let stored = store.decideBatch(checks.compactMap(\.item), now: clock.now, commit: commit)
        return finish(batch: checks, stored: stored, commit: commit)
    }

    /// Forgets `key`'s state under `rule`.
    public func reset(rule: String, key: String) throws(CheckError) {
        guard let installed = installed(rule) else { throw .unknownRule(rule) }
        try Self.validateKey(key)
        store.reset(slot: installed.slot, key: key)
    }

    /// Evicts every key whose state equals a new key's. Returns how many were removed.
    @discardableResult
    public func sweep() -> Int {
        let bySlot = snapshot.withLock { $0.bySlot }
        return store.sweep(now: clock.now) { slot, key in
            guard let installed = bySlot[slot], case .limited(let limits) = installed.rule.policy(for: key) else {
                return nil
            }
            return limits
        }
    }

    /// `rule`'s heaviest keys by `ranking` (`GET /v1/top`); nil when its recorder keeps none.
    public func topKeys(rule: String, by ranking: TopKeys.Ranking, n: Int) throws(CheckError) -> TopKeys.Report? {
        guard let installed = installed(rule) else { throw .unknownRule(rule) }
        return installed.recorder?.topKeys(by: ranking, n: n, now: clock.now)
    }

    /// Keys with live state, per rule name, in rule order.
    public func activeClients() -> [(rule: String, count: Int)] {
        let snap = snapshot.withLock { $0 }
        return snap.rules.rules.compactMap { rule in
            snap.byName[rule.name].map { (rule.name, store.count(slot: $0.slot)) }
        }
    }
}

extension RateLimiter {
    /// Every live key state with the rule and limits it was measured under (`--state-file`).
    public func stateSnapshot() -> StateSnapshot {
        let snap = snapshot.withLock { $0 }
        var entries: [StateSnapshot.Entry] = []
        for (slot, key, state) in store.states() {
            guard let installed = snap.bySlot[slot], case .limited(let limits) = installed.rule.policy(for: key) else { continue }
            entries.append(StateSnapshot.Entry(rule: installed.rule.name, limits: limits, key: key, state: state))
        }
        return StateSnapshot(entries: entries)
    }

    /// Restores the entries whose rule exists with the same limits for that key (a changed rule
    /// or override starts fresh). Returns how many were restored and how many skipped.
    @discardableResult
    public func restore(_ snapshot: StateSnapshot) -> (restored: Int, skipped: Int) {
        var restored = 0
        for entry in snapshot.entries {
            guard let installed = installed(entry.rule), case .limited(let limits) = installed.rule.policy(for: entry.key),
                  limits == entry.limits, (try? Self.validateKey(entry.key)) != nil else { continue }
            store.restore(slot: installed.slot, key: entry.key, state: entry.state)
            restored += 1
        }
        return (restored, snapshot.entries.count - restored)
    }
}

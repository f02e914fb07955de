import CFuzzDriver
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hands control to libFuzzer with this process's arguments and `target` as the test function.
///
/// SwiftPM links an executable's entry point as `main` (it renames it to `<Module>_main` so tests
/// can link executables), so the fuzz targets keep a `main.swift` that calls this instead of using
/// libFuzzer's own `main`.
public func runFuzzer(_ target: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, target))
}

/// Fails the run when an invariant does not hold: libFuzzer sees the trap as a crash and saves
/// the input. The message says which invariant.
public func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() {
        fatalError("FUZZ INVARIANT BROKEN: \(message())", file: file, line: line)
    }
}

/// A 64-bit FNV-1a of the input: picks "random" split points that depend only on the input,
/// so every failure reproduces from the saved input alone.
public func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes {
        h ^= UInt64(b)
        h &*= 0x0000_0100_0000_01B3
    }
    return h
}

/// The fuzz input as a buffer pointer (libFuzzer may pass a null pointer with size 0).
public func input(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    guard let data, size > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: data, count: size)
}

/// The configuration the HTTP target serves: the repository's examples/rules.yaml (every
/// algorithm, overrides, shadow, descriptors) read at start, plus a 2-per-ms rule that denies
/// often.
public let exampleRulesYAML: String = {
    // #filePath is Fuzz/Sources/FuzzSupport/FuzzSupport.swift.
    let root = String(#filePath).split(separator: "/", omittingEmptySubsequences: false).dropLast(4).joined(separator: "/")
    let path = root + "/examples/rules.yaml"
    guard let file = fopen(path, "r") else { fatalError("cannot read \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes += buffer[..<n]
    }
    // The file's last top-level section is `rules:`, so a rule appended at its indentation joins it.
    return String(decoding: bytes, as: UTF8.self) + """

          - name: tiny
            algorithm: fixed_window
            limit: 2
            period: 1ms

        """
}()

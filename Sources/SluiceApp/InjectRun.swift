#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import RateLimitConfig
public import SluiceInject

/// `sluice inject`: reads the YAML, writes it with the sidecar added, names what went wrong.
public enum InjectRun {
    /// The exit status: 0, or 1 with the problem on stderr.
    /// - Parameter filename: the YAML to read; `-` for standard input.
    public static func run(options: InjectOptions, filename: String) -> Int32 {
        let input: String
        if filename == "-" {
            guard let bytes = ConfigFile.readAll(STDIN_FILENO) else {
                printError("sluice inject: cannot read stdin")
                return 1
            }
            input = String(decoding: bytes, as: UTF8.self)
        } else {
            do { input = try ConfigFile.read(path: filename) } catch {
                printError("sluice inject: \(error)")
                return 1
            }
        }
        do {
            let output = try SluiceInjector(options: options).inject(yaml: input)
            writeAll(STDOUT_FILENO, output)
            return 0
        } catch {
            // Errors about a document name it and its line; errors about the flags have no place.
            let source = filename == "-" ? "stdin" : filename
            printError("\(error.document == nil ? "sluice inject" : source): \(error)")
            return 1
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The standard `process_*` metrics, read from /proc/self on each scrape (Linux).
struct ProcessMetrics {
    var cpuSeconds: Double?
    var residentBytes: Double?
    var virtualBytes: Double?
    var openFDs: Double?
    var maxFDs: Double?
    var startTimeSeconds: Double?

    static func sample() -> ProcessMetrics {
        var m = ProcessMetrics()
        #if os(Linux)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = readFile("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            // Fields after "comm)": state is field 3; utime 14, stime 15, starttime 22, vsize 23, rss 24.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ n: Int) -> Double? { fields.count > n - 3 ? Double(fields[n - 3]) : nil }
            if let utime = field(14), let stime = field(15) { m.cpuSeconds = (utime + stime) / ticks }
            m.virtualBytes = field(23)
            m.residentBytes = field(24).map { $0 * page }
            if let start = field(22), let boot = bootTime() { m.startTimeSeconds = boot + start / ticks }
        }
        m.openFDs = countOpenFDs()
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { m.maxFDs = Double(limit.rlim_cur) }
        #endif
        return m
    }

    func render(into buffer: inout [UInt8]) {
        func emit(_ name: String, _ type: String, _ help: String, _ value: Double?) {
            guard let value else { return }
            buffer.append(contentsOf: "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(Self.format(value))\n".utf8)
        }
        emit("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpuSeconds)
        emit("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", residentBytes)
        emit("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", virtualBytes)
        emit("process_open_fds", "gauge", "Number of open file descriptors.", openFDs)
        emit("process_max_fds", "gauge", "Maximum number of open file descriptors.", maxFDs)
        emit("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", startTimeSeconds)
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    #if os(Linux)
    static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func bootTime() -> Double? {
        guard let stat = readFile("/proc/stat") else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6))
        }
        return nil
    }

    static func countOpenFDs() -> Double? {
        guard let dir = opendir("/proc/self/fd") else { return nil }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(2)) }
            if name.first != UInt8(ascii: ".") { count += 1 }
        }
        return Double(max(count - 1, 0))  // minus the directory stream's own descriptor
    }
    #endif
}

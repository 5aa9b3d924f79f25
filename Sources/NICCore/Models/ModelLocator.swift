#if canImport(Glibc)
    import Glibc
#endif

/// Finds the model directory (the folder holding settings.json) when the caller names none:
/// 1. the environment variable NIC_MODEL_DIR;
/// 2. `share/nic` beside the installed binary or library (`<prefix>/bin` or `<prefix>/lib` → `<prefix>/share/nic`);
/// 3. `models/` of a source checkout above the binary (for `.build/release/nic` during development).
public enum ModelLocator {
    public static func defaultDirectory(binaryPath: String?) -> String? {
        if let env = getenv("NIC_MODEL_DIR").map({ String(cString: $0) }), !env.isEmpty { return env }
        guard let binaryPath, let folder = parent(binaryPath) else { return nil }
        if let prefix = parent(folder), hasManifest(prefix + "/share/nic") { return prefix + "/share/nic" }
        var current: String? = folder
        for _ in 0..<6 {
            guard let dir = current else { break }
            if hasManifest(dir + "/models") { return dir + "/models" }
            current = parent(dir)
        }
        return nil
    }

    /// Path of the running executable (Linux /proc).
    public static var executablePath: String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The file mapped at `address` in this process (from /proc/self/maps): a shared
    /// library finds its own path this way without dladdr.
    public static func mappedFile(containing address: UnsafeRawPointer) -> String? {
        guard let bytes = try? readFileBytes(path: "/proc/self/maps", limit: 16 << 20),
            let text = String(validating: bytes, as: UTF8.self)
        else { return nil }
        let target = UInt(bitPattern: address)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, let dash = fields[0].firstIndex(of: "-"),
                let start = UInt(fields[0][..<dash], radix: 16),
                let end = UInt(fields[0][fields[0].index(after: dash)...], radix: 16),
                target >= start, target < end
            else { continue }
            return fields[5...].joined(separator: " ")
        }
        return nil
    }

    static func hasManifest(_ dir: String) -> Bool { access(dir + "/settings.json", R_OK) == 0 }

    static func parent(_ path: String) -> String? {
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

#if canImport(Glibc)
import Glibc
#endif

// Whole-file reads and writes with POSIX calls (library targets do not use Foundation).

/// Reads a whole file, refusing more than `limit` bytes so that a huge file or an endless
/// device (/dev/zero) cannot make us allocate without bound.
public func readFileBytes(path: String, limit: Int) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw NICError.io("cannot open '\(path)': \(errnoString())") }
    defer { close(fd) }
    var info = stat()
    if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) > limit {
        throw NICError.invalidArgument("'\(path)' is \(info.st_size) bytes; files over \(limit) bytes are not read")
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count == 0 { return bytes }
        if count < 0 {
            if errno == EINTR { continue }
            throw NICError.io("cannot read '\(path)': \(errnoString())")
        }
        guard bytes.count + count <= limit else {
            throw NICError.invalidArgument("'\(path)' is larger than \(limit) bytes; such files are not read")
        }
        bytes.append(contentsOf: chunk[0..<count])
    }
}

/// Writes `bytes` to `path` (created or truncated); removes the partial file on failure.
public func writeFileBytes(_ bytes: [UInt8], path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw NICError.io("cannot create '\(path)': \(errnoString())") }
    var written = 0
    while written < bytes.count {
        let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 {
            let reason = count < 0 ? errnoString() : "nothing written"
            close(fd)
            unlink(path)
            throw NICError.io("cannot write '\(path)': \(reason)")
        }
        written += count
    }
    // close reports delayed write errors (NFS, full disks).
    if close(fd) != 0 {
        let reason = errnoString()
        unlink(path)
        throw NICError.io("cannot write '\(path)': \(reason)")
    }
}

func errnoString() -> String { String(cString: strerror(errno)) }

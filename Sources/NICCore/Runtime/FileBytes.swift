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

/// Writes `bytes` to `path` through an `OutputFile`: the target is replaced only once every
/// byte is written, and an output that is one of `inputs` is refused.
public func writeFileBytes(_ bytes: [UInt8], path: String, inputs: [String] = []) throws {
    let file = try OutputFile(path: path, inputs: inputs)
    try file.write(bytes)
    try file.commit()
}

func errnoString() -> String { String(cString: strerror(errno)) }

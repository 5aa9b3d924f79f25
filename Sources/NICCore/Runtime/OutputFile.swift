#if canImport(Glibc)
    import Glibc
#endif

/// An output file that replaces its target only when the job succeeds. The bytes go to a new,
/// unnamed file in the target's folder (`O_TMPFILE`), which `commit()` links in place of the
/// target in one rename. Until then the target is untouched: a failed job, a full disk, a
/// cancelled job or a killed process leave any earlier file as it was and no partial file.
/// Where the file system has no unnamed files, a hidden `.NAME.nic-partial-*` file in the same
/// folder takes its place (removed on failure; only a killed process can leave it behind).
///
/// A target that is a symbolic link keeps the link: the file it points to is replaced. An
/// existing target keeps its permission bits.
public final class OutputFile {
    /// The target as given.
    public let path: String
    /// The target with symbolic links resolved: the name that `commit()` replaces.
    let target: String
    let folder: String
    /// Open for writing; owned by this object.
    public let descriptor: Int32
    /// The hidden name of the fallback file; nil for an unnamed file.
    private var partialName: String?
    private var finished = false

    /// Creates the new file for `path`. Refuses a target that is one of `inputs` (the same file
    /// after resolving links) before anything is created, and a folder that cannot be written.
    public init(path: String, inputs: [String] = []) throws {
        self.path = path
        try OutputFile.refuseSameFile(output: path, inputs: inputs)
        target = OutputFile.resolvedTarget(path)
        folder = OutputFile.folder(of: target)
        var existing = stat()
        if stat(target, &existing) == 0, existing.st_mode & S_IFMT == S_IFDIR {
            throw NICError.invalidArgument("the output '\(path)' is a folder; name a file")
        }
        let mode: mode_t = 0o666
        var fd = open(folder, OutputFile.unnamedFile | O_WRONLY | O_CLOEXEC, mode)
        if fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
            // No unnamed files here: a hidden name, created exclusively.
            for attempt in 0..<100 {
                let name = "\(folder)/.\(OutputFile.baseName(of: target)).nic-partial-\(getpid())-\(attempt)"
                fd = open(name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode)
                if fd >= 0 { partialName = name; break }
                if errno != EEXIST { break }
            }
        }
        guard fd >= 0 else { throw NICError.io("cannot create '\(path)': \(errnoString())") }
        descriptor = fd
        if stat(target, &existing) == 0, existing.st_mode & S_IFMT == S_IFREG {
            _ = fchmod(fd, existing.st_mode & 0o7777)
        }
    }

    /// Linux's O_TMPFILE (`__O_TMPFILE | O_DIRECTORY`; Glibc's macro does not reach Swift).
    static let unnamedFile: Int32 = 0o20_000_000 | O_DIRECTORY

    deinit { discard() }

    /// A name under which the new file can be opened again for writing (for writers that take a
    /// path, such as FFmpeg's file protocol).
    public var writablePath: String { partialName ?? "/proc/self/fd/\(descriptor)" }

    /// Appends `bytes` (a short write is retried; any error throws and the target is kept).
    public func write(_ bytes: [UInt8]) throws {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 {
                throw NICError.io("cannot write '\(path)': \(count < 0 ? errnoString() : "nothing written")")
            }
            written += count
        }
    }

    /// Puts the new file in place of the target (one rename: readers see the old file or the
    /// new one, never a mix). After it the object owns nothing.
    public func commit() throws {
        guard !finished else { throw NICError.internal("'\(path)' was already committed or discarded") }
        if fdatasync(descriptor) != 0 && errno != EINVAL && errno != EROFS {
            let reason = errnoString()
            discard()
            throw NICError.io("cannot write '\(path)': \(reason)")
        }
        var staged = partialName
        if staged == nil {
            for attempt in 0..<100 {
                let name = "\(folder)/.\(OutputFile.baseName(of: target)).nic-commit-\(getpid())-\(attempt)"
                if linkat(AT_FDCWD, "/proc/self/fd/\(descriptor)", AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0 {
                    staged = name
                    break
                }
                if errno != EEXIST { break }
            }
        }
        guard let staged else {
            let reason = errnoString()
            discard()
            throw NICError.io("cannot create '\(path)': \(reason)")
        }
        if rename(staged, target) != 0 {
            let reason = errnoString()
            unlink(staged)
            partialName = nil
            discard()
            throw NICError.io("cannot replace '\(path)': \(reason)")
        }
        partialName = nil
        finished = true
        close(descriptor)
    }

    /// Drops the new file; the target stays as it was. Safe to call more than once.
    public func discard() {
        guard !finished else { return }
        finished = true
        if let partialName { unlink(partialName) }
        close(descriptor)
    }

    /// Throws `invalidArgument` when `output` names the same file as one of `inputs` (after
    /// resolving links and hard links: same device and inode).
    public static func refuseSameFile(output: String, inputs: [String]) throws {
        var out = stat()
        guard stat(output, &out) == 0 else { return }
        for input in inputs {
            var info = stat()
            if stat(input, &info) == 0, info.st_dev == out.st_dev, info.st_ino == out.st_ino {
                throw NICError.invalidArgument("the output '\(output)' is the input file '\(input)'; write to another path")
            }
        }
    }

    static func resolvedTarget(_ path: String) -> String {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK,
            let resolved = realpath(path, nil)
        else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    package static func baseName(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }
}

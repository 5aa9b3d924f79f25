#if canImport(Glibc)
    import Glibc
#endif

/// The many-file counterpart of `OutputFile`, for outputs such as numbered PNG frames that a
/// writer names itself from a pattern. The files are written into a new hidden folder beside
/// their targets (`.nic-frames-XXXXXX`); `commit()` moves each into the target folder, and
/// `discard()` (or a job that never commits) removes them with the hidden folder. Until the
/// commit no file in the target folder is touched: a failed or cancelled job leaves the earlier
/// files as they were and none of its own. Only a killed process can leave the hidden folder.
public final class OutputFolder {
    /// The pattern as given, e.g. `out/frames_%05d.png`.
    public let pattern: String
    /// The folder the files end up in.
    public let folder: String
    /// The hidden folder the writer writes into.
    public let staging: String
    private var finished = false

    /// Creates the hidden folder beside the files `pattern` names. The pattern's folder part
    /// must name one existing folder (no pattern characters in it).
    public init(pattern: String) throws {
        self.pattern = pattern
        folder = OutputFile.folder(of: pattern)
        guard !folder.contains("%") else {
            throw NICError.invalidArgument("'\(pattern)': a numbered pattern may only number the file name, not its folder")
        }
        var info = stat()
        guard stat(folder, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw NICError.io("cannot write into '\(folder)': no such folder")
        }
        var template = Array("\(folder)/.nic-frames-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw NICError.io("cannot write into '\(folder)': \(errnoString())")
        }
        staging = String(cString: template)
    }

    deinit { discard() }

    /// The pattern to give the writer: the same file name pattern inside the hidden folder.
    public var stagingPattern: String { "\(staging)/\(OutputFile.baseName(of: pattern))" }

    /// Moves every file written so far into the target folder (one rename each, replacing a
    /// file of the same name) and removes the hidden folder. Returns the number of files moved.
    @discardableResult
    public func commit() throws -> Int {
        guard !finished else { throw NICError.internal("'\(pattern)' was already committed or discarded") }
        let names = try entries()
        var moved = 0
        for name in names {
            guard rename("\(staging)/\(name)", "\(folder)/\(name)") == 0 else {
                let reason = errnoString()
                discard()
                throw NICError.io("cannot move '\(name)' into '\(folder)' (\(moved) of \(names.count) files moved): \(reason)")
            }
            moved += 1
        }
        finished = true
        rmdir(staging)
        return moved
    }

    /// Removes every file written so far and the hidden folder. Safe to call more than once.
    public func discard() {
        guard !finished else { return }
        finished = true
        for name in (try? entries()) ?? [] { unlink("\(staging)/\(name)") }
        rmdir(staging)
    }

    /// The names in the hidden folder, sorted.
    private func entries() throws -> [String] {
        guard let directory = opendir(staging) else { throw NICError.io("cannot read '\(staging)': \(errnoString())") }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

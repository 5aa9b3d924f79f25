import Glibc
import NICCore

/// A fresh directory under /tmp for one test, removed with its files afterwards.
struct TemporaryDirectory {
    let path: String

    init(path: String) { self.path = path }

    init(prefix: String) throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw NICError.io("mkdtemp failed") }
        path = String(cString: made)
    }

    /// Deletes the files in the directory (tests write no subdirectories) and the directory.
    func remove() {
        guard !path.isEmpty, let dir = opendir(path) else { return }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { unlink(path + "/" + name) }
        }
        closedir(dir)
        rmdir(path)
    }
}

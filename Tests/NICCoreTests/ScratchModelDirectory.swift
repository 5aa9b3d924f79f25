import Foundation
import NICCore
import XCTest

/// A models folder of one test (`defer { directory.remove() }`): its files are linked from, copied
/// from or written as damaged copies of the repository's models.
struct ScratchModelDirectory {
    let path: String
    private var fileManager: FileManager { .default }

    /// An empty folder with the subfolders `folders`.
    init(folders: [String]) throws {
        let fileManager = FileManager.default
        path = fileManager.temporaryDirectory.appendingPathComponent("models-\(UInt32.random(in: 0...UInt32.max))").path
        for folder in folders {
            try fileManager.createDirectory(atPath: path + "/" + folder, withIntermediateDirectories: true)
        }
    }

    func remove() { try? fileManager.removeItem(atPath: path) }

    func copy(_ source: String, to name: String) throws {
        try fileManager.copyItem(atPath: source, toPath: path + "/" + name)
    }

    func link(_ source: String, to name: String) throws {
        try fileManager.createSymbolicLink(atPath: path + "/" + name, withDestinationPath: source)
    }

    /// `source` with one bit of its last byte flipped, at `name` (replacing what is there).
    func writeDamaged(_ source: String, to name: String) throws {
        try? fileManager.removeItem(atPath: path + "/" + name)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: source))
        bytes[bytes.count - 1] ^= 1
        try bytes.write(to: URL(fileURLWithPath: path + "/" + name))
    }
}

/// Asserts that `load` refuses a model file as a model error naming its sha256.
func assertRefusedBySHA256<T>(_ load: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try load(), file: file, line: line) { error in
        guard case NICError.model(let message) = error else { return XCTFail("\(error)", file: file, line: line) }
        XCTAssertTrue(message.contains("sha256"), message, file: file, line: line)
    }
}

// Shared by every harness (compiled into each): the input as bytes, the repository's model
// directory, and seed writing. A harness's seeds come from the library itself: running the
// harness with NIC_FUZZ_WRITE_SEEDS=DIR writes them into DIR and exits, so that no binary
// corpus needs to live in the repository.
import Glibc

/// The fuzzer's input as an array (empty for a NULL pointer).
func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// The input of a harness that reads a mode byte first: the mode and the bytes after it (nil for
/// an empty input).
func fuzzModeAndBody(_ input: [UInt8]) -> (mode: UInt8, body: [UInt8])? {
    guard let mode = input.first else { return nil }
    return (mode, Array(input.dropFirst()))
}

// libFuzzer's two entry points; each harness defines `fuzzSetUp()` (once, before the first
// input) and `fuzzOne(_:)` (every input).

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: FuzzArgv) -> Int32 {
    fuzzSetUp()
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzOne(fuzzInput(data, size))
    return 0
}

/// The repository this harness was built from (Tests/fuzz/FuzzSupport.swift is two levels down).
let fuzzRepositoryRoot: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// The model directory: $NIC_FUZZ_MODELS, else the repository's models/.
let fuzzModelDirectory: String = {
    if let value = getenv("NIC_FUZZ_MODELS") { return String(cString: value) }
    return fuzzRepositoryRoot + "/models"
}()

func fuzzFail(_ message: String) -> Never {
    fputs("fuzz harness: \(message)\n", stderr)
    exit(2)
}

/// Writes `bytes` to `path` (created or truncated).
func fuzzWriteFile(_ path: String, _ bytes: [UInt8]) {
    guard let file = fopen(path, "wb") else { fuzzFail("cannot create \(path)") }
    defer { fclose(file) }
    guard bytes.isEmpty || fwrite(bytes, 1, bytes.count, file) == bytes.count else { fuzzFail("cannot write \(path)") }
}

/// Reads a whole file, nil when it cannot be opened.
func fuzzReadFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes += buffer[..<n]
    }
    return bytes
}

/// A fresh private directory under $TMPDIR (or /tmp).
func fuzzTemporaryDirectory(_ tag: String) -> String {
    let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    var template = Array("\(base)/nic-fuzz-\(tag)-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fuzzFail("cannot create a temporary directory in \(base)") }
    return String(cString: made)
}

/// Called from each harness's LLVMFuzzerInitialize: with NIC_FUZZ_WRITE_SEEDS=DIR set, writes
/// the seeds `make` returns into DIR (one file each) and exits; otherwise returns.
func fuzzWriteSeedsIfAsked(_ make: () throws -> [(name: String, bytes: [UInt8])]) {
    guard let value = getenv("NIC_FUZZ_WRITE_SEEDS") else { return }
    let directory = String(cString: value)
    mkdir(directory, 0o755)
    do {
        let seeds = try make()
        for seed in seeds { fuzzWriteFile(directory + "/" + seed.name, seed.bytes) }
        fputs("fuzz harness: wrote \(seeds.count) seeds to \(directory)\n", stderr)
        exit(0)
    } catch {
        fuzzFail("cannot make the seeds: \(error)")
    }
}

public typealias FuzzArgv = UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?

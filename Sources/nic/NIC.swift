import ArgumentParser
import FFGlue
import NICCore
#if canImport(Glibc)
    import Glibc
#endif

@main
struct NIC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nic",
        abstract: "libnic: AI image/video scaling and neural image compression.",
        version: LibraryInfo.version,
        subcommands: [
            VersionCommand.self, AIEncodeCommand.self, AIDecodeCommand.self, DownscaleCommand.self,
            UpscaleCommand.self, EncodeCommand.self, DecodeCommand.self, InfoCommand.self, SettingsCommand.self, ResizeCommand.self,
            DemoCommand.self,
            BenchCommand.self,
        ])
}

/// Runs a command body and turns library errors into one line on stderr and exit status 1.
func runReportingErrors(_ body: () throws -> Void) throws {
    FFmpegLogging.silence()  // errors are reported once, in our words
    // A file-size limit (ulimit -f) then fails a write with EFBIG, reported, instead of killing the tool.
    signal(SIGXFSZ, SIG_IGN)
    do {
        try body()
    } catch let error as NICError {
        printError("nic: error: \(error.message)")
        throw ExitCode(1)
    }
}

func printError(_ message: String) {
    var stderr = StandardError()
    print(message, to: &stderr)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        for byte in string.utf8 { putc(Int32(byte), stderrStream) }
    }
}

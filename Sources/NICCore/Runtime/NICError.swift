/// Errors thrown by NICCore and FFGlue. Each case maps to one `NicStatus` of nic.h
/// and carries a message meant for the user.
public enum NICError: Error, Equatable, CustomStringConvertible {
    case invalidArgument(String)
    case unsupportedFormat(String)
    case dimensions(String)
    case outOfMemory(String)
    case corruptData(String)
    case io(String)
    case model(String)
    /// The caller asked to stop (a progress callback); nothing was written.
    case cancelled(String)
    case `internal`(String)

    public var message: String {
        switch self {
        case .invalidArgument(let m), .unsupportedFormat(let m), .dimensions(let m), .outOfMemory(let m),
            .corruptData(let m), .io(let m), .model(let m), .cancelled(let m), .internal(let m):
            return m
        }
    }

    public var description: String { message }
}

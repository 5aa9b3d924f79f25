import CNicAPI

/// Version of the library: nic.h's NIC_VERSION_* macros are its one source (the Makefile and
/// the tests read them too).
public enum LibraryInfo {
    public static let version = "\(NIC_VERSION_MAJOR).\(NIC_VERSION_MINOR).\(NIC_VERSION_PATCH)"
}

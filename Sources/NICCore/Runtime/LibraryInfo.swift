/// Version of the library; nic.h's NIC_VERSION_* must match.
public enum LibraryInfo {
    public static let version = "0.1.0"
}

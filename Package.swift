// swift-tools-version:6.0
// libnic: neural image/video codec library. See README.md and docs/architecture.md.
import PackageDescription

/// The shared library links the Swift runtime statically, exports only `nic_*`
/// (linker version script) and carries the soname of the installed copy.
let sharedLibraryLinkerFlags: [LinkerSetting] = [
    .unsafeFlags([
        "-static-stdlib", "-use-ld=lld",
        "-Xlinker", "-soname=libnic.so.0",
        "-Xlinker", "--exclude-libs", "-Xlinker", "ALL",
        "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/CExport/libnic.map",
    ])
]

let package = Package(
    name: "libnic",
    products: [
        // Built as .build/<config>/libNICShared.so; `make install` installs it as libnic.so.0.
        .library(name: "NICShared", type: .dynamic, targets: ["CExport"]),
        .executable(name: "nic", targets: ["nic"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        // C modules: system libraries and the public header.
        .systemLibrary(
            name: "CFFmpeg", pkgConfig: "libavformat libavcodec libavutil libswscale",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "CNicAPI"),
        .target(name: "CPUInfo"),
        .target(name: "CKernels", dependencies: ["CPUInfo"]),
        // Entry points for programs built against earlier layouts of nic.h's structs.
        .target(name: "CABICompat"),

        // Swift modules; data flows FFGlue -> NICCore -> FFGlue, CExport only translates.
        .target(name: "NICCore", dependencies: ["CDNNL", "CPUInfo", "CKernels", "CNicAPI"]),
        .target(name: "FFGlue", dependencies: ["CFFmpeg", "NICCore"]),
        // The benchmarks behind `nic bench`: part of the tool, not of the shipped library.
        .target(name: "NICBench", dependencies: ["NICCore", "CDNNL", "CPUInfo"]),
        .target(
            name: "CExport", dependencies: ["CNicAPI", "CABICompat", "NICCore", "FFGlue"],
            exclude: ["libnic.map"],
            linkerSettings: sharedLibraryLinkerFlags),
        .executableTarget(
            name: "nic",
            dependencies: ["NICCore", "FFGlue", "NICBench", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            // The installed tool runs without the Swift toolchain, like the library.
            linkerSettings: [
                .unsafeFlags(["-static-stdlib", "-use-ld=lld", "-l_FoundationCollections", "-l_FoundationCShims", "-lswiftSynchronization"])
            ]),

        .testTarget(name: "NICCoreTests", dependencies: ["NICCore", "NICBench"], exclude: ["Fixtures"]),
        .testTarget(name: "FFGlueTests", dependencies: ["FFGlue", "NICCore", "NICBench"]),
    ],
    swiftLanguageModes: [.v5]
)

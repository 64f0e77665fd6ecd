// swift-tools-version: 6.1
// libFuzzer targets for every parser of hrnet-swift that reads a file a user (or an attacker)
// hands it. Built only by `make fuzz-check` / `make fuzz` (the root package never builds it):
//   swift build -c release --package-path Fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
// One executable; HRNET_FUZZ names the parser (see Sources/hrnet-fuzz/Targets.swift).
import PackageDescription

let package = Package(
    name: "hrnet-fuzz",
    dependencies: [.package(name: "hrnet-swift", path: "..")],
    targets: [
        .executableTarget(
            name: "hrnet-fuzz",
            dependencies: [
                .product(name: "DNN", package: "hrnet-swift"),
                .product(name: "HRNet", package: "hrnet-swift"),
                .product(name: "Imaging", package: "hrnet-swift"),
                .product(name: "Datasets", package: "hrnet-swift"),
                .product(name: "Pose", package: "hrnet-swift"),
                .product(name: "Classification", package: "hrnet-swift"),
                .product(name: "Segmentation", package: "hrnet-swift"),
                .product(name: "Detection", package: "hrnet-swift"),
            ]
        ),
    ]
)

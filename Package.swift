// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "hrnet-swift",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "DNN", targets: ["DNN"]),
        .library(name: "HRNet", targets: ["HRNet"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "Pose", targets: ["Pose"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Segmentation", targets: ["Segmentation"]),
        .executable(name: "hrnet", targets: ["hrnet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // oneDNN 2.6 C API (Debian libdnnl-dev ships no dnnl.pc, so the module map links it).
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .target(
            name: "DNN",
            dependencies: ["CDNNL"],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        // libjpeg-turbo and libpng behind a setjmp-guarded C shim (their error paths exit/longjmp).
        .target(
            name: "CImageShim",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png")]
        ),
        .target(
            name: "Imaging",
            dependencies: ["CImageShim"],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        // Data sets and their metrics (COCO annotations, results, COCOeval).
        .target(name: "Datasets"),
        // Top-down pose estimation: crops, heatmap decoding, flip test, OKS-NMS.
        .target(name: "Pose", dependencies: ["DNN", "HRNet", "Imaging", "Datasets", .product(name: "Yams", package: "Yams")]),
        // Semantic segmentation: the official multi-scale / sliding-window test, label maps,
        // palettes, confusion matrix and mIoU, data set readers, synthetic data.
        .target(
            name: "Segmentation",
            dependencies: ["DNN", "HRNet", "Imaging"],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        .target(
            name: "HRNet",
            dependencies: ["DNN", .product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "hrnet",
            dependencies: ["HRNet", "DNN", "Datasets", "Pose", "Imaging", "Segmentation", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .target(name: "TestSupport", dependencies: ["DNN"], path: "Tests/TestSupport"),
        .testTarget(name: "DNNTests", dependencies: ["DNN", "TestSupport"]),
        .testTarget(
            name: "HRNetTests",
            dependencies: ["HRNet", "DNN", "TestSupport"]
        ),
        .testTarget(name: "PoseTests", dependencies: ["Pose", "DNN", "HRNet", "Imaging", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TestSupport"]),
        .testTarget(name: "SegmentationTests", dependencies: ["Segmentation", "DNN", "HRNet", "Imaging", "TestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"]),
        // Drives the built `hrnet` binary as a user would.
        .testTarget(name: "CLITests", dependencies: ["DNN", "Imaging", "Segmentation", "TestSupport", "hrnet"]),
    ]
)

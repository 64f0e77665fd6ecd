// swift-tools-version: 6.1
import PackageDescription

// Linux only (Debian's oneDNN, libjpeg-turbo, libpng and Open MPI): no Apple platform is supported.
let package = Package(
    name: "hrnet-swift",
    products: [
        .library(name: "DNN", targets: ["DNN"]),
        .library(name: "Collectives", targets: ["Collectives"]),
        .library(name: "HRNet", targets: ["HRNet"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "Geometry", targets: ["Geometry"]),
        .library(name: "Pose", targets: ["Pose"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "PoseTraining", targets: ["PoseTraining"]),
        .library(name: "Classification", targets: ["Classification"]),
        .library(name: "Segmentation", targets: ["Segmentation"]),
        .library(name: "Detection", targets: ["Detection"]),
        .library(name: "Server", targets: ["Server"]),
        .executable(name: "hrnet", targets: ["hrnet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // Writing outputs: one atomic writer (temporary file, flush, rename) for every module.
        .target(name: "FileSupport"),
        .target(name: "Geometry"),
        // oneDNN 2.6 C API (Debian libdnnl-dev ships no dnnl.pc, so the module map links it).
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        // Open MPI's C API (Debian libopenmpi-dev; include and library paths from `pkg-config ompi-c`).
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // Processes working together: rank, size, all-reduce, broadcast, gather (MPI under mpirun, one process otherwise).
        .target(name: "Collectives", dependencies: ["CMPI"]),
        // The engine's kernels in C where Swift's vectors fall short (bf16 Winograd with AVX512-BF16).
        .target(name: "CKernels"),
        .target(
            name: "DNN",
            dependencies: ["CDNNL", "CKernels", "FileSupport", "Collectives"]
        ),
        // libjpeg-turbo and libpng behind a setjmp-guarded C shim (their error paths exit/longjmp).
        .target(
            name: "CImageShim",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png")]
        ),
        .target(
            name: "Imaging",
            dependencies: ["CImageShim", "FileSupport", "Geometry"]
        ),
        // The system zlib (Debian zlib1g-dev): inflates the compressed elements of MAT-files.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // Data sets and their metrics (COCO annotations, results, COCOeval; MPII's PCKh and
        // MAT-files).
        .target(name: "Datasets", dependencies: ["CZlib", "Geometry"]),
        // Top-down pose estimation: crops, heatmap decoding, flip test, OKS-NMS.
        .target(name: "Pose", dependencies: ["DNN", "Collectives", "HRNet", "Imaging", "Datasets", "Geometry", .product(name: "Yams", package: "Yams")]),
        // What feeds pose training: data sets (COCO, MPII), the official augmentation and
        // Gaussian targets, and the synthetic keypoint data set.
        .target(
            name: "PoseTraining",
            dependencies: ["Pose", "HRNet", "Imaging", "Datasets", "DNN", "Collectives", "FileSupport", "Geometry"]
        ),
        // Semantic segmentation: the official multi-scale / sliding-window test, label maps,
        // palettes, confusion matrix and mIoU, data set readers, synthetic data.
        .target(
            name: "Segmentation",
            dependencies: ["DNN", "Collectives", "HRNet", "Imaging", "FileSupport"]
        ),
        // The embedded default pose model (experiment YAML + safetensors, assembled into read-only
        // data by default_model.S; the assembler finds the files through the header search path).
        .target(
            name: "CDefaultModel",
            exclude: ["pose_default.safetensors", "pose_default.yaml", "pose_default_log.csv", "pose_default_stage1.yaml",
                      "pose_default_stage1_log.csv", "pose_default_stage2.yaml", "pose_default_stage2_log.csv", "README.md"],
            cSettings: [.headerSearchPath(".")]
        ),
        .target(
            name: "HRNet",
            dependencies: ["DNN", "CDefaultModel", .product(name: "Yams", package: "Yams")]
        ),
        // ImageNet-1k's class list, a text file assembled into the binary (data, not code).
        .target(name: "CImageNetClasses", exclude: ["imagenet_classes.tsv"], cSettings: [.headerSearchPath(".")]),
        // Image classification: class labels (ImageNet-1k built in), softmax, top-k, the classifier,
        // torchvision's pre-processing, image folders, training.
        .target(
            name: "Classification",
            dependencies: ["HRNet", "DNN", "Collectives", "Imaging", "CImageNetClasses"]
        ),
        // Object detection on the HRNetV2p backbone as mmdetection builds it: HRFPN, FCOS and
        // Faster R-CNN heads, mmdet's test pipeline and post-processing, its Python configs.
        // The embedded default person detector (mmdet-style config + safetensors, assembled into
        // read-only data by default_detector.S).
        .target(
            name: "CDefaultDetector",
            exclude: ["person_detector.safetensors", "person_detector.py", "person_detector_log.csv", "person_detector_restart.py",
                      "person_detector_restart_log.csv", "person_detector_cycle3.py",
                      "person_detector_cycle3_log.csv", "person_detector_cycle4.py", "person_detector_cycle4_log.csv",
                      "person_detector_cycle5.py", "person_detector_cycle5_log.csv",
                      "box_refiner.safetensors", "box_refiner.yaml", "box_refiner_log.csv", "box_refiner_round2.yaml", "box_refiner_round2_log.csv",
                      "README.md"],
            cSettings: [.headerSearchPath(".")]
        ),
        .target(name: "Detection", dependencies: ["DNN", "Collectives", "HRNet", "Imaging", "Datasets", "Pose", "CDefaultDetector"]),
        // `hrnet serve`: the library front-ends behind HTTP (Hummingbird 2), with a batcher that
        // joins concurrent requests' crops into one network run, limits, metrics and a web page.
        .target(
            name: "Server",
            dependencies: ["HRNet", "DNN", "Pose", "Imaging", "Classification", "Segmentation", "Detection",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "hrnet",
            dependencies: ["HRNet", "DNN", "Collectives", "Datasets", "Pose", "PoseTraining", "Imaging", "Classification", "Segmentation", "Detection", "FileSupport", "Server",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .target(name: "TestSupport", dependencies: ["DNN"], path: "Tests/TestSupport"),
        .testTarget(name: "DNNTests", dependencies: ["DNN", "Collectives", "TestSupport"]),
        .testTarget(name: "CollectivesTests", dependencies: ["Collectives"]),
        .testTarget(name: "FileSupportTests", dependencies: ["FileSupport"]),
        .testTarget(
            name: "HRNetTests",
            dependencies: ["HRNet", "DNN", "TestSupport"]
        ),
        .testTarget(name: "PoseTests", dependencies: ["Pose", "DNN", "HRNet", "Imaging", "TestSupport"]),
        .testTarget(name: "PoseTrainingTests", dependencies: ["PoseTraining", "Pose", "HRNet", "Datasets", "Imaging", "DNN", "Collectives", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TestSupport"]),
        .testTarget(name: "SegmentationTests", dependencies: ["Segmentation", "DNN", "HRNet", "Imaging", "TestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"]),
        .testTarget(name: "ClassificationTests", dependencies: ["Classification", "HRNet", "DNN", "Imaging", "TestSupport"]),
        .testTarget(name: "DetectionTests", dependencies: ["Detection", "DNN", "HRNet", "Imaging", "Datasets", "Pose", "PoseTraining", "TestSupport"]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Pose", "HRNet", "DNN", "Imaging", "TestSupport",
                                                        .product(name: "HummingbirdTesting", package: "hummingbird")]),
        // Drives the built `hrnet` binary as a user would.
        .testTarget(name: "CLITests", dependencies: ["DNN", "HRNet", "Imaging", "Datasets", "Classification", "Segmentation", "Detection", "TestSupport", "hrnet"]),
    ]
)

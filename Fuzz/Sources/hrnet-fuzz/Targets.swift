import Classification
import Datasets
import Detection
import DNN
import Foundation
import HRNet
import Imaging
import Pose
import Segmentation

/// The parsers under fuzzing, by the name HRNET_FUZZ gives. Each reads the input as the user's
/// file would be read (through a file where the public API takes one); a thrown error is the
/// right answer to bad input, a trap or a sanitizer report is a finding.
enum FuzzTarget: String, CaseIterable {
    /// Checkpoints told apart by content: PyTorch zip and legacy pickles, safetensors.
    case checkpoint
    case npy
    /// JPEG and PNG through the libjpeg-turbo / libpng shim, and label PNGs.
    case image
    /// Official experiment YAML (model and training sections).
    case yaml
    /// COCO annotation files (and the JSON reader under them).
    case coco
    /// MATLAB v5 files (MPII ground truth), zlib-compressed elements included.
    case mat
    /// Detection / box results files for `hrnet pose --boxes`.
    case boxes
    /// classes.txt for classifiers and segmentation.
    case classes
    /// mmdetection Python configs (the restricted Python subset) read into a detector.
    case pyconfig
    /// Keypoint definition YAML files (`--keypoints`).
    case keypoints

    /// The file name extension the input gets (some readers dispatch on it).
    var fileName: String {
        switch self {
        case .checkpoint: "input.pth"
        case .npy: "input.npy"
        case .image: "input.png"
        case .yaml: "input.yaml"
        case .coco: "input.json"
        case .mat: "input.mat"
        case .boxes: "input.json"
        case .classes: "classes.txt"
        case .pyconfig: "input.py"
        case .keypoints: "keypoints.yaml"
        }
    }

    /// One image with one person, for results files.
    nonisolated(unsafe) static var truth: COCOGroundTruth = {
        let json = #"{"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 30], "area": 600, "iscrowd": 0, "num_keypoints": 1, "keypoints": [10, 10, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]}], "categories": [{"id": 1, "name": "person", "keypoints": ["nose","left_eye","right_eye","left_ear","right_ear","left_shoulder","right_shoulder","left_elbow","right_elbow","left_wrist","right_wrist","left_hip","right_hip","left_knee","right_knee","left_ankle","right_ankle"]}]}"#
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-fuzz-truth-\(getpid()).json")
        try! Data(json.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try! COCOGroundTruth.load(url)
    }()

    /// Runs the parser on `data` (already written to `url`). Errors are expected and ignored.
    func run(_ data: Data, at url: URL) {
        let text = String(decoding: data, as: UTF8.self)
        switch self {
        case .checkpoint:
            if let loaded = try? Checkpoint.loadWithMetadata(url) {
                // Converting every tensor reads every stored byte the header points at.
                _ = Checkpoint.floatTensors(loaded.tensors).count
            }
        case .npy:
            _ = try? NPY.read(url)
        case .image:
            let limit = 1 << 20   // small images only: the bound itself is what is checked here
            _ = try? Image.decode(data, name: "input", maxPixels: limit)
            _ = try? GrayImage.decodePNG(data, name: "input", maxPixels: limit)
        case .yaml:
            _ = try? HRNetConfig.parse(yaml: text, source: "input.yaml")
            _ = try? TrainingConfig.parse(yaml: text, source: "input.yaml")
        case .coco:
            _ = try? COCOGroundTruth.load(url)
            // The same bytes as a results file, against a small fixed ground truth.
            _ = try? COCOResults.load(url, for: Self.truth, iouType: .keypoints)
            _ = try? COCOResults.load(url, for: Self.truth, iouType: .bbox)
        case .mat:
            if let mat = try? MATFile(bytes: [UInt8](data), source: "input.mat") {
                _ = try? MPIIGroundTruth(mat)
            }
        case .boxes:
            _ = try? DetectionFile.load(url)
        case .classes:
            _ = try? ClassLabels(contentsOf: url)
            _ = try? SegmentationDataset.readClassList(url)
        case .pyconfig:
            _ = try? DetectorConfig.parse(text, source: "input.py")
        case .keypoints:
            _ = try? KeypointSet.load(url)
        }
    }
}

/// The Cityscapes label definitions the official HRNet code uses (cityscapesScripts labels.py;
/// HRNet-Semantic-Segmentation lib/datasets/cityscapes.py `label_mapping`): 34 label ids, of
/// which 19 are evaluated as train ids 0...18; all others map to ignore (255).
public enum Cityscapes {
    /// The 19 evaluated classes, in train-id order.
    public static let classNames = [
        "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
        "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
    ]

    /// The label id of each train id (the inverse of the official mapping, for submissions).
    public static let labelIDs: [UInt8] = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]

    /// Colours of the train ids (cityscapesScripts labels.py).
    public static let colors: [(UInt8, UInt8, UInt8)] = [
        (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
        (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
        (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
    ]

    /// The cross-entropy class weights of the official training, by train id
    /// (HRNet-Semantic-Segmentation lib/datasets/cityscapes.py `class_weights`).
    public static let classWeights: [Float] = [
        0.8373, 0.918, 0.866, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023,
        0.9539, 0.9843, 1.1116, 0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507,
    ]

    /// Label id (0...33) -> train id, 255 for the ids that are not evaluated; nil above 33.
    public static let trainIDOfLabelID: [UInt8] = {
        var table = [UInt8](repeating: LabelMap.ignore, count: 34)
        for (train, label) in labelIDs.enumerated() { table[Int(label)] = UInt8(train) }
        return table
    }()

    /// Converts a `*_labelIds.png` map to train ids; ids above 33 are an error naming `file`.
    public static func trainIDs(fromLabelIDs map: LabelMap, file: String) throws -> LabelMap {
        var out = map
        for i in 0..<map.labels.count {
            let v = Int(map.labels[i])
            guard v < trainIDOfLabelID.count else {
                throw SegmentationError("\(file): label id \(v) at (x \(i % map.width), y \(i / map.width)) is not a Cityscapes label id (0...33)")
            }
            out.labels[i] = trainIDOfLabelID[v]
        }
        return out
    }

    /// Train ids -> label ids (ignore becomes 0, "unlabeled"), as the official save_pred writes them.
    public static func labelIDs(fromTrainIDs map: LabelMap) throws -> LabelMap {
        var out = map
        for i in 0..<map.labels.count {
            let v = Int(map.labels[i])
            if v == Int(LabelMap.ignore) { out.labels[i] = 0; continue }
            guard v < labelIDs.count else { throw SegmentationError("train id \(v) is not a Cityscapes class (0...18)") }
            out.labels[i] = labelIDs[v]
        }
        return out
    }
}

/// PASCAL-Context's 59 most frequent classes (the list the 59-class benchmark and the official
/// HRNet pascal_ctx configs use; label value k in the PNGs is class k-1, 0 is background).
public enum PascalContext {
    public static let classNames = [
        "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat", "book", "bottle", "building",
        "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth", "computer", "cow", "cup", "curtain", "dog",
        "door", "fence", "floor", "flower", "food", "grass", "ground", "horse", "keyboard", "light", "motorbike",
        "mountain", "mouse", "person", "plate", "platform", "pottedplant", "road", "rock", "sheep", "shelves",
        "sidewalk", "sign", "sky", "snow", "sofa", "table", "track", "train", "tree", "truck", "tvmonitor", "wall",
        "water", "window", "wood",
    ]
}

import Foundation

/// One annotation (ground truth) or one result (detection), in the fields evaluation needs.
public struct COCOObject: Sendable {
    public var id: Int
    public var imageID: Int
    public var categoryID: Int
    /// x, y, w, h
    public var bbox: [Double]
    public var area: Double
    public var isCrowd: Bool
    /// x, y, v triplets (v: visibility for ground truth, score for results).
    public var keypoints: [Double]
    public var numKeypoints: Int
    public var score: Double

    public init(id: Int = 0, imageID: Int, categoryID: Int, bbox: [Double] = [0, 0, 0, 0], area: Double = 0,
                isCrowd: Bool = false, keypoints: [Double] = [], numKeypoints: Int = 0, score: Double = 1) {
        (self.id, self.imageID, self.categoryID, self.bbox, self.area) = (id, imageID, categoryID, bbox, area)
        (self.isCrowd, self.keypoints, self.numKeypoints, self.score) = (isCrowd, keypoints, numKeypoints, score)
    }
}

/// One entry of a COCO file's `images` list.
public struct COCOImage: Sendable, Equatable {
    public var id: Int
    public var fileName: String
    public var width: Int
    public var height: Int
}

/// The parts of a COCO file evaluation reads: images, categories, annotations.
public struct COCOGroundTruth: Sendable {
    public var imageIDs: [Int]
    /// Image ids in the file's order, each once (pycocotools' getImgIds(): the official pose
    /// code builds its training db in this order).
    public var imageOrder: [Int] = []
    /// Image entries by id (file name and size; 0 where the file leaves a size out).
    public var images: [Int: COCOImage] = [:]
    public var categoryIDs: [Int]
    /// Category ids in the file's order (the official pose code trains on the first one).
    public var categoryOrder: [Int] = []
    /// Each category's `name`, by id.
    public var categoryNames: [Int: String] = [:]
    public var keypointNames: [Int: [String]]
    public var skeletons: [Int: [[Int]]]
    public var annotations: [COCOObject]

    /// Keeps the first `count` images (by id order, as evaluated) and their annotations: a quick
    /// evaluation on part of a split.
    public mutating func limit(to count: Int) {
        guard count < imageIDs.count else { return }
        imageIDs = Array(imageIDs.prefix(max(0, count)))
        let kept = Set(imageIDs)
        annotations = annotations.filter { kept.contains($0.imageID) }
    }

    public static func load(_ url: URL) throws -> COCOGroundTruth {
        let name = url.lastPathComponent
        let root = try COCOJSON.object(url)
        guard case .object = root else { throw DatasetError.coco(name, "expected a JSON object with images, annotations and categories") }
        guard let images = root["images"]?.array else { throw DatasetError.coco(name, "has no 'images' list") }
        guard let categories = root["categories"]?.array, !categories.isEmpty else { throw DatasetError.coco(name, "has no 'categories' (needed to evaluate)") }
        guard let anns = root["annotations"]?.array else { throw DatasetError.coco(name, "has no 'annotations' list") }
        var gt = COCOGroundTruth(imageIDs: [], categoryIDs: [], keypointNames: [:], skeletons: [:], annotations: [])
        for (i, item) in images.enumerated() {
            guard let id = item["id"]?.int else { throw DatasetError.coco(name, "images[\(i)] has no integer 'id'") }
            gt.imageIDs.append(id)
            gt.images[id] = COCOImage(id: id, fileName: item["file_name"]?.string ?? String(format: "%012d.jpg", id),
                                      width: item["width"]?.int ?? 0, height: item["height"]?.int ?? 0)
        }
        for (i, item) in categories.enumerated() {
            guard let id = item["id"]?.int else { throw DatasetError.coco(name, "categories[\(i)] has no integer 'id'") }
            gt.categoryIDs.append(id)
            gt.categoryOrder.append(id)
            if let n = item["name"]?.string { gt.categoryNames[id] = n }
            if let k = item["keypoints"]?.array { gt.keypointNames[id] = k.compactMap(\.string) }
            if let s = item["skeleton"]?.array { gt.skeletons[id] = s.map { ($0.doubles ?? []).map { Int($0) } } }
        }
        var seen = Set<Int>()
        gt.imageOrder = gt.imageIDs.filter { seen.insert($0).inserted }
        gt.imageIDs = Array(seen).sorted()
        gt.categoryIDs = Array(Set(gt.categoryIDs)).sorted()
        gt.annotations.reserveCapacity(anns.count)
        for (i, item) in anns.enumerated() {
            let a = try COCOJSON.annotation(item, index: i, file: name, result: false)
            // pycocotools would fail on a keypoint list that does not fit its category; say which.
            if !a.keypoints.isEmpty, let names = gt.keypointNames[a.categoryID], a.keypoints.count != 3 * names.count {
                throw DatasetError.coco(name, "annotations[\(i)] (id \(a.id)) has \(a.keypoints.count) keypoint values; its category "
                                + "\(a.categoryID) has \(names.count) keypoints (\(3 * names.count) values: x, y, v each)")
            }
            gt.annotations.append(a)
        }
        return gt
    }
}

/// A results file (a JSON list of detections), completed as pycocotools' loadRes does:
/// ids 1, 2, ...; keypoint results get the bbox and area of their keypoints' extent; box
/// results get area w * h.
public enum COCOResults {
    public static func load(_ url: URL, for gt: COCOGroundTruth, iouType: COCOEval.IoUType) throws -> [COCOObject] {
        let name = url.lastPathComponent
        guard let list = try COCOJSON.object(url).array else { throw DatasetError.coco(name, "expected a JSON list of results") }
        let images = Set(gt.imageIDs)
        var out: [COCOObject] = []
        out.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            let r = try COCOJSON.annotation(item, index: i, file: name, result: true, iouType: iouType)
            guard images.contains(r.imageID) else {
                throw DatasetError.coco(name, "results[\(i)] is for image \(r.imageID), which the ground truth does not have")
            }
            out.append(r)
        }
        return complete(out, iouType: iouType)
    }

    /// Ids 1, 2, ... in order, no crowd flags, and the area (and, for keypoints, the bbox of the
    /// keypoints' extent) as pycocotools' loadRes computes them.
    public static func complete(_ results: [COCOObject], iouType: COCOEval.IoUType) -> [COCOObject] {
        var out = results
        for i in out.indices {
            out[i].id = i + 1
            out[i].isCrowd = false
            switch iouType {
            case .keypoints:
                let kp = out[i].keypoints
                let xs = stride(from: 0, to: kp.count, by: 3).map { kp[$0] }
                let ys = stride(from: 1, to: kp.count, by: 3).map { kp[$0] }
                let (x0, x1, y0, y1) = (xs.min() ?? 0, xs.max() ?? 0, ys.min() ?? 0, ys.max() ?? 0)
                out[i].area = (x1 - x0) * (y1 - y0)
                out[i].bbox = [x0, y0, x1 - x0, y1 - y0]
            case .bbox:
                out[i].area = out[i].bbox[2] * out[i].bbox[3]
            }
        }
        return out
    }
}

enum COCOJSON {
    static func object(_ url: URL) throws -> JSONValue {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DatasetError.coco(url.lastPathComponent, FileManager.default.fileExists(atPath: url.path) ? "cannot be read" : "no such file")
        }
        do { return try JSONParser.parse(data) } catch {
            throw DatasetError.coco(url.lastPathComponent, "\(error)")
        }
    }

    static func annotation(_ a: JSONValue, index i: Int, file: String, result: Bool, iouType: COCOEval.IoUType? = nil) throws -> COCOObject {
        let what = result ? "results[\(i)]" : "annotations[\(i)]"
        guard case .object = a else { throw DatasetError.coco(file, "\(what) is not an object") }
        guard let image = a["image_id"]?.int else { throw DatasetError.coco(file, "\(what).image_id is missing or not an integer") }
        guard let category = a["category_id"]?.int else { throw DatasetError.coco(file, "\(what).category_id is missing or not an integer") }
        var o = COCOObject(id: a["id"]?.int ?? 0, imageID: image, categoryID: category, bbox: [0, 0, 0, 0], area: 0,
                           isCrowd: (a["iscrowd"]?.int ?? 0) != 0, keypoints: [], numKeypoints: 0, score: 1)
        if !result, a["id"]?.int == nil { throw DatasetError.coco(file, "\(what).id is missing or not an integer") }
        if let b = a["bbox"] {
            guard let bb = b.doubles, bb.count == 4 else { throw DatasetError.coco(file, "\(what).bbox must be 4 numbers [x, y, w, h]") }
            o.bbox = bb
        } else if !result || iouType == .bbox {
            throw DatasetError.coco(file, "\(what).bbox is missing")
        }
        if let k = a["keypoints"] {
            guard let kp = k.doubles, kp.count % 3 == 0, !kp.isEmpty else {
                throw DatasetError.coco(file, "\(what).keypoints must be x, y, v triplets")
            }
            o.keypoints = kp
        } else if iouType == .keypoints {
            throw DatasetError.coco(file, "\(what).keypoints is missing")
        }
        if result {
            guard let s = a["score"]?.double else { throw DatasetError.coco(file, "\(what).score is missing or not a number") }
            guard s.isFinite else { throw DatasetError.coco(file, "\(what).score is \(s); scores must be finite") }
            o.score = s
        } else {
            o.area = a["area"]?.double ?? o.bbox[2] * o.bbox[3]
            o.numKeypoints = a["num_keypoints"]?.int ?? stride(from: 2, to: o.keypoints.count, by: 3).filter { o.keypoints[$0] > 0 }.count
        }
        return o
    }
}

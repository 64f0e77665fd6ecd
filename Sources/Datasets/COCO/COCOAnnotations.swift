import Foundation

/// A COCO data set file could not be used; names the file, the field and the index.
public struct COCOError: Error, CustomStringConvertible {
    public let description: String
    init(_ file: String, _ message: String) { description = "\(file): \(message)" }
}

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
}

/// The parts of a COCO file evaluation reads: images, categories, annotations.
public struct COCOGroundTruth: Sendable {
    public var imageIDs: [Int]
    public var categoryIDs: [Int]
    public var keypointNames: [Int: [String]]
    public var skeletons: [Int: [[Int]]]
    public var annotations: [COCOObject]

    public static func load(_ url: URL) throws -> COCOGroundTruth {
        let name = url.lastPathComponent
        let root = try COCOJSON.object(url)
        guard let dict = root as? [String: Any] else { throw COCOError(name, "expected a JSON object with images, annotations and categories") }
        guard let images = dict["images"] as? [Any] else { throw COCOError(name, "has no 'images' list") }
        guard let categories = dict["categories"] as? [Any], !categories.isEmpty else { throw COCOError(name, "has no 'categories' (needed to evaluate)") }
        guard let anns = dict["annotations"] as? [Any] else { throw COCOError(name, "has no 'annotations' list") }
        var gt = COCOGroundTruth(imageIDs: [], categoryIDs: [], keypointNames: [:], skeletons: [:], annotations: [])
        for (i, item) in images.enumerated() {
            guard let im = item as? [String: Any], let id = COCOJSON.int(im["id"]) else { throw COCOError(name, "images[\(i)] has no integer 'id'") }
            gt.imageIDs.append(id)
        }
        for (i, item) in categories.enumerated() {
            guard let c = item as? [String: Any], let id = COCOJSON.int(c["id"]) else { throw COCOError(name, "categories[\(i)] has no integer 'id'") }
            gt.categoryIDs.append(id)
            if let k = c["keypoints"] as? [String] { gt.keypointNames[id] = k }
            if let s = c["skeleton"] as? [[Any]] { gt.skeletons[id] = s.map { $0.compactMap(COCOJSON.int) } }
        }
        gt.imageIDs = Array(Set(gt.imageIDs)).sorted()
        gt.categoryIDs = Array(Set(gt.categoryIDs)).sorted()
        gt.annotations.reserveCapacity(anns.count)
        for (i, item) in anns.enumerated() {
            gt.annotations.append(try COCOJSON.annotation(item, index: i, file: name, result: false))
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
        guard let list = try COCOJSON.object(url) as? [Any] else { throw COCOError(name, "expected a JSON list of results") }
        let images = Set(gt.imageIDs)
        var out: [COCOObject] = []
        out.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            var r = try COCOJSON.annotation(item, index: i, file: name, result: true, iouType: iouType)
            guard images.contains(r.imageID) else {
                throw COCOError(name, "results[\(i)] is for image \(r.imageID), which the ground truth does not have")
            }
            r.id = i + 1
            r.isCrowd = false
            switch iouType {
            case .keypoints:
                let xs = stride(from: 0, to: r.keypoints.count, by: 3).map { r.keypoints[$0] }
                let ys = stride(from: 1, to: r.keypoints.count, by: 3).map { r.keypoints[$0] }
                let (x0, x1, y0, y1) = (xs.min()!, xs.max()!, ys.min()!, ys.max()!)
                r.area = (x1 - x0) * (y1 - y0)
                r.bbox = [x0, y0, x1 - x0, y1 - y0]
            case .bbox:
                r.area = r.bbox[2] * r.bbox[3]
            }
            out.append(r)
        }
        return out
    }
}

enum COCOJSON {
    static func object(_ url: URL) throws -> Any {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw COCOError(url.lastPathComponent, FileManager.default.fileExists(atPath: url.path) ? "cannot be read" : "no such file")
        }
        do { return try JSONSerialization.jsonObject(with: data) } catch {
            throw COCOError(url.lastPathComponent, "not valid JSON")
        }
    }

    static func int(_ v: Any?) -> Int? {
        guard let n = v as? NSNumber, !(n is Bool) || true else { return nil }
        let d = n.doubleValue
        return d == d.rounded() && abs(d) < 1e15 ? Int(d) : nil
    }
    static func double(_ v: Any?) -> Double? { (v as? NSNumber)?.doubleValue }
    static func doubles(_ v: Any?) -> [Double]? {
        guard let list = v as? [Any] else { return nil }
        let out = list.compactMap(double)
        return out.count == list.count ? out : nil
    }

    static func annotation(_ item: Any, index i: Int, file: String, result: Bool, iouType: COCOEval.IoUType? = nil) throws -> COCOObject {
        let what = result ? "results[\(i)]" : "annotations[\(i)]"
        guard let a = item as? [String: Any] else { throw COCOError(file, "\(what) is not an object") }
        guard let image = int(a["image_id"]) else { throw COCOError(file, "\(what).image_id is missing or not an integer") }
        guard let category = int(a["category_id"]) else { throw COCOError(file, "\(what).category_id is missing or not an integer") }
        var o = COCOObject(id: int(a["id"]) ?? 0, imageID: image, categoryID: category, bbox: [0, 0, 0, 0], area: 0,
                           isCrowd: (int(a["iscrowd"]) ?? 0) != 0, keypoints: [], numKeypoints: 0, score: 1)
        if !result, int(a["id"]) == nil { throw COCOError(file, "\(what).id is missing or not an integer") }
        if let b = a["bbox"] {
            guard let bb = doubles(b), bb.count == 4 else { throw COCOError(file, "\(what).bbox must be 4 numbers [x, y, w, h]") }
            o.bbox = bb
        } else if !result || iouType == .bbox {
            throw COCOError(file, "\(what).bbox is missing")
        }
        if let k = a["keypoints"] {
            guard let kp = doubles(k), kp.count % 3 == 0, !kp.isEmpty else {
                throw COCOError(file, "\(what).keypoints must be x, y, v triplets")
            }
            o.keypoints = kp
        } else if iouType == .keypoints {
            throw COCOError(file, "\(what).keypoints is missing")
        }
        if result {
            guard let s = double(a["score"]) else { throw COCOError(file, "\(what).score is missing or not a number") }
            guard s.isFinite else { throw COCOError(file, "\(what).score is \(s); scores must be finite") }
            o.score = s
        } else {
            o.area = double(a["area"]) ?? o.bbox[2] * o.bbox[3]
            o.numKeypoints = int(a["num_keypoints"]) ?? o.keypoints.enumerated().filter { $0.offset % 3 == 2 && $0.element > 0 }.count
        }
        return o
    }
}

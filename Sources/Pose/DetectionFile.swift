import Datasets
import Foundation

/// Person boxes from a detector, in the COCO detection-results format the official pose code
/// reads (`[{"image_id": 397133, "category_id": 1, "bbox": [x, y, w, h], "score": 0.99}, ...]`).
/// An entry may name its image by `file_name` instead of (or beside) `image_id`.
public struct DetectionFile: Sendable {
    public private(set) var byImageID: [Int: [PersonBox]] = [:]
    public private(set) var byFileName: [String: [PersonBox]] = [:]
    /// Entries kept (person category, score at or above the threshold).
    public private(set) var count = 0

    /// Reads `url`. Entries of other categories than `category` are left out (a detector's file
    /// holds all classes), as are scores below `minScore` (the official TEST.IMAGE_THRE); an
    /// entry without `category_id` counts as a person.
    public static func load(_ url: URL, category: Int = 1, minScore: Double = 0) throws -> DetectionFile {
        let name = url.lastPathComponent
        func fail(_ why: String) -> PoseError { PoseError("\(name): \(why)") }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw fail(FileManager.default.fileExists(atPath: url.path) ? "cannot be read" : "no such file")
        }
        let root: JSONValue
        do { root = try JSONParser.parse(data) } catch { throw fail("\(error)") }
        guard let list = root.array else { throw fail("expected a JSON list of detections [{image_id, bbox, score, category_id}]") }
        var file = DetectionFile()
        for (i, item) in list.enumerated() {
            let what = "detections[\(i)]"
            guard case .object = item else { throw fail("\(what) is not an object") }
            if let c = item["category_id"] {
                guard let id = c.int else { throw fail("\(what).category_id is not an integer") }
                if id != category { continue }
            }
            guard let b = item["bbox"]?.doubles, b.count == 4 else { throw fail("\(what).bbox must be 4 numbers [x, y, w, h]") }
            var score = 1.0
            if let s = item["score"] {
                guard let v = s.double, v.isFinite else { throw fail("\(what).score is not a finite number") }
                score = v
            }
            if score < minScore { continue }
            let box = PersonBox(x: b[0], y: b[1], width: b[2], height: b[3], score: score)
            guard box.width > 0, box.height > 0, [box.x, box.y, box.width, box.height].allSatisfy(\.isFinite) else {
                throw fail("\(what).bbox \(b) has no area")
            }
            let fileName = item["file_name"]?.string
            let imageID = item["image_id"]?.int
            guard fileName != nil || imageID != nil else { throw fail("\(what) has neither an integer image_id nor a file_name") }
            if let fileName { file.byFileName[fileName, default: []].append(box) }
            else if let imageID { file.byImageID[imageID, default: []].append(box) }
            file.count += 1
        }
        return file
    }

    /// The boxes for an image file: by its file name, else by the image id its name spells
    /// (COCO's `000000397133.jpg` is image 397133).
    /// The boxes of entries that none of `files` would read (their file name or image id
    /// matches none), for a warning: a results file of another split reads as "no people".
    public func unmatched(by files: [URL]) -> Int {
        let names = Set(files.map(\.lastPathComponent))
        // A file read by name does not read its id's entries.
        let readByID = Set(files.filter { byFileName[$0.lastPathComponent] == nil }.compactMap(Self.imageID(of:)))
        return byFileName.filter { !names.contains($0.key) }.reduce(0) { $0 + $1.value.count }
            + byImageID.filter { !readByID.contains($0.key) }.reduce(0) { $0 + $1.value.count }
    }

    public func boxes(forFile url: URL) -> [PersonBox] {
        if let b = byFileName[url.lastPathComponent] { return b }
        if let id = Self.imageID(of: url) { return byImageID[id] ?? [] }
        return []
    }

    /// The COCO image id in a file name made of digits (`000000397133.jpg` -> 397133).
    public static func imageID(of url: URL) -> Int? {
        let stem = url.deletingPathExtension().lastPathComponent
        guard !stem.isEmpty, stem.count <= 18, stem.allSatisfy(\.isASCII), stem.allSatisfy(\.isNumber) else { return nil }
        return Int(stem)
    }
}

import Foundation
import HRNet
import Yams

extension KeypointSet {
    /// `count` keypoints named `joint_0`...: no flip pairs or skeleton, every OKS sigma the mean
    /// of COCO's (0.0626), for a model whose keypoints nobody described.
    public static func unnamed(_ count: Int) -> KeypointSet {
        KeypointSet(names: (0..<count).map { "joint_\($0)" }, flipPairs: [], skeleton: [],
                    sigmas: Array(repeating: coco.sigmas.reduce(0, +) / Double(coco.count), count: count))
    }

    /// Keypoints known only by name (a COCO-format data set's category): the same set as COCO's
    /// when the names are COCO's, else flip pairs matched by name ("left_x" with "right_x", also
    /// "l_"/"r_" prefixes), and mean COCO sigmas.
    /// - Parameter skeleton: 0-based limbs.
    public static func named(_ names: [String], skeleton: [[Int]] = []) -> KeypointSet {
        if names == coco.names { return coco }
        func mirrored(_ name: String) -> String? {
            for (a, b) in [("left", "right"), ("right", "left"), ("l_", "r_"), ("r_", "l_")] {
                if name.hasPrefix(a) { return b + name.dropFirst(a.count) }
                if let r = name.range(of: "_" + a) { return name.replacingCharacters(in: r, with: "_" + b) }
            }
            return nil
        }
        var pairs: [[Int]] = []
        for (i, n) in names.enumerated() {
            if let m = mirrored(n), let j = names.firstIndex(of: m), i < j { pairs.append([i, j]) }
        }
        var set = unnamed(names.count)
        set.names = names
        set.flipPairs = pairs
        set.skeleton = skeleton.filter { $0.count == 2 && $0.allSatisfy(names.indices.contains) }
        return set
    }

    /// A user's keypoint definition, YAML or JSON:
    /// ```yaml
    /// keypoints: [nose, left_eye, right_eye]          # names, in the model's output order
    /// flip_pairs: [[left_eye, right_eye]]             # swapped when mirrored (names or 0-based indices)
    /// skeleton: [[nose, left_eye], [nose, right_eye]] # limbs to draw (names or 0-based indices)
    /// sigmas: [0.026, 0.025, 0.025]                   # OKS sigmas (optional; default 0.0626 each)
    /// ```
    public static func load(_ url: URL) throws -> KeypointSet {
        let name = url.lastPathComponent
        func fail(_ why: String) -> PoseError { PoseError("\(name): \(why)") }
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw fail(FileManager.default.fileExists(atPath: url.path) ? "cannot be read as UTF-8 text" : "no such file")
        }
        let root: Any?
        do { root = try BoundedYAML.load(text) } catch let e as BoundedYAML.Refused { throw fail("\(e)") } catch {
            throw fail("not valid YAML or JSON: \(error)")
        }
        guard let doc = root as? [String: Any] else { throw fail("expected a mapping with 'keypoints', 'flip_pairs', 'skeleton'") }
        guard let names = doc["keypoints"] as? [Any], !names.isEmpty else { throw fail("'keypoints' must be a non-empty list of names") }
        let keypointNames = try names.enumerated().map { i, v in
            guard let s = v as? String ?? (v as? Int).map(String.init), !s.isEmpty else { throw fail("keypoints[\(i)] is not a name") }
            return s
        }
        guard Set(keypointNames).count == keypointNames.count else { throw fail("'keypoints' names a keypoint twice") }
        func index(_ v: Any, _ field: String) throws -> Int {
            if let i = v as? Int {
                guard keypointNames.indices.contains(i) else { throw fail("\(field): index \(i) is outside 0..<\(keypointNames.count)") }
                return i
            }
            if let s = v as? String, let i = keypointNames.firstIndex(of: s) { return i }
            throw fail("\(field): '\(v)' is not one of the keypoints")
        }
        func pairs(_ field: String) throws -> [[Int]] {
            guard let list = doc[field] else { return [] }
            guard let items = list as? [Any] else { throw fail("'\(field)' must be a list of pairs") }
            return try items.enumerated().map { k, item in
                guard let pair = item as? [Any], pair.count == 2 else { throw fail("\(field)[\(k)] must be a pair") }
                let p = [try index(pair[0], "\(field)[\(k)]"), try index(pair[1], "\(field)[\(k)]")]
                guard p[0] != p[1] else { throw fail("\(field)[\(k)] pairs a keypoint with itself") }
                return p
            }
        }
        let flips = try pairs("flip_pairs")
        let flat = flips.flatMap { $0 }
        guard Set(flat).count == flat.count else { throw fail("'flip_pairs' names a keypoint in two pairs") }
        var sigmas = unnamed(keypointNames.count).sigmas
        if let s = doc["sigmas"] {
            guard let values = s as? [Any], values.count == keypointNames.count else {
                throw fail("'sigmas' must list one number per keypoint (\(keypointNames.count))")
            }
            sigmas = try values.enumerated().map { i, v in
                guard let d = (v as? Double) ?? (v as? Int).map(Double.init), d > 0, d.isFinite else {
                    throw fail("sigmas[\(i)] must be a positive number")
                }
                return d
            }
        }
        return KeypointSet(names: keypointNames, flipPairs: flips, skeleton: try pairs("skeleton"), sigmas: sigmas)
    }
}

extension KeypointSet {
    /// The four extreme points of what is seen of a person, the middle pixel of their leftmost
    /// column, top row, rightmost column and bottom row (ExtremeNet's box representation): the
    /// keypoints of a box refiner (`hrnet synth --extreme-points` writes them). Left and right
    /// are a flip pair by name; the skeleton joins them in a loop.
    public static let extremes = KeypointSet.named(["left_extreme", "top_extreme", "right_extreme", "bottom_extreme"],
                                                   skeleton: [[0, 1], [1, 2], [2, 3], [3, 0]])
}

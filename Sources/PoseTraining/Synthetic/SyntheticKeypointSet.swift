import FileSupport
import DNN
import Foundation
import Imaging
import Pose

/// A procedural COCO-format keypoint data set, so every feature can be tried with no download:
/// DIR/images/{train,val}/<id as 12 digits>.jpg and DIR/annotations/person_keypoints_{train,val}.json
/// (the layout of COCO and of `hrnet eval --data DIR --split val`).
public enum SyntheticKeypointSet {
    public struct Options: Sendable {
        public var images: Int
        public var seed: UInt64 = 0
        /// The share of images in the val split (the last ones by id).
        public var valFraction: Double = 0.2
        public var width: Int = 320
        public var height: Int = 240
        public var jpegQuality: Int = 90
        /// Images generated at once; 0 = one per core.
        public var threads: Int = 0
        /// Write into a folder that already has files.
        public var force: Bool = false
        /// Empty images, small people, crowds (for detectors; the defaults make the pose sets).
        public var variety = SyntheticScene.Variety()

        public init(images: Int) { self.images = images }
    }

    public struct Summary: Sendable {
        public var trainImages: Int, valImages: Int, people: Int, keypoints: Int
    }

    /// How many images go to val: round(images x fraction), leaving at least one train image.
    public static func valCount(_ options: Options) -> Int {
        guard options.images > 1 else { return 0 }
        return min(options.images - 1, max(0, Int((Double(options.images) * options.valFraction).rounded())))
    }

    /// Writes the data set. `progress` is called on the calling thread with the number of
    /// images finished so far. Images are written atomically as they are made, the two JSON
    /// files atomically at the end.
    public static func write(to dir: URL, options: Options, progress: (Int) -> Void = { _ in }) throws -> Summary {
        guard options.images >= 1 else { throw PoseTrainingError.dataset(dir.path, "the data set needs at least 1 image") }
        guard (16...8192).contains(options.width), (16...8192).contains(options.height) else {
            throw PoseTrainingError.dataset(dir.path, "image size \(options.width)x\(options.height) must be 16...8192 on each side")
        }
        guard options.valFraction >= 0, options.valFraction <= 1 else {
            throw PoseTrainingError.dataset(dir.path, "the val fraction \(options.valFraction) must be in 0...1")
        }
        try prepare(dir, force: options.force)
        let valCount = valCount(options)
        let trainCount = options.images - valCount
        let split: @Sendable (Int) -> String = { index in index < trainCount ? "train" : "val" }

        let n = options.images
        var scenes = [[SyntheticPerson]?](repeating: nil, count: n)
        var failures = [String?](repeating: nil, count: n)
        let threads = options.threads > 0 ? options.threads : ProcessInfo.processInfo.activeProcessorCount
        let chunk = max(1, threads * 4)
        var done = 0
        while done < n {
            let range = done..<min(n, done + chunk)
            scenes.withUnsafeMutableBufferPointer { sceneBuffer in
                failures.withUnsafeMutableBufferPointer { failureBuffer in
                    let slots = Slots(scenes: sceneBuffer, failures: failureBuffer)
                    let work: @Sendable (Int) -> Void = { k in
                        let index = range.lowerBound + k
                        let scene = SyntheticScene.make(seed: options.seed, index: index, width: options.width, height: options.height,
                                                    variety: options.variety)
                        let url = dir.appendingPathComponent("images/\(split(index))/\(fileName(id: index + 1))")
                        do {
                            try scene.image.write(to: url, quality: options.jpegQuality)
                            slots.scenes[index] = scene.people
                        } catch {
                            slots.failures[index] = "\(error)"
                        }
                    }
                    if threads == 1 { for k in 0..<range.count { work(k) } } else {
                        DispatchQueue.concurrentPerform(iterations: range.count, execute: work)
                    }
                }
            }
            if let failure = failures[range].compactMap({ $0 }).first { throw PoseTrainingError.dataset(dir.path, failure) }
            done = range.upperBound
            progress(done)
        }

        var annotationID = 0
        var summary = Summary(trainImages: trainCount, valImages: valCount, people: 0, keypoints: 0)
        for (name, indices) in [("train", 0..<trainCount), ("val", trainCount..<n)] {
            var images: [String] = [], annotations: [String] = []
            for index in indices {
                let id = index + 1
                images.append("{\"id\": \(id), \"file_name\": \"\(fileName(id: id))\", \"width\": \(options.width), \"height\": \(options.height)}")
                for person in scenes[index] ?? [] {
                    annotationID += 1
                    summary.people += 1
                    summary.keypoints += person.numKeypoints
                    annotations.append("{\"id\": \(annotationID), \"image_id\": \(id), \"category_id\": 1, \"iscrowd\": 0, "
                        + "\"bbox\": [\(number(person.bbox))], \"area\": \(format(person.area)), "
                        + "\"num_keypoints\": \(person.numKeypoints), \"keypoints\": [\(number(person.keypoints))], "
                        + "\"segmentation\": []}")
                }
            }
            let json = "{\"info\": {\"description\": \"hrnet synth: procedural keypoint data set\", \"seed\": \(options.seed), "
                + "\"width\": \(options.width), \"height\": \(options.height)},\n\"images\": [\n" + images.joined(separator: ",\n")
                + "\n],\n\"annotations\": [\n" + annotations.joined(separator: ",\n") + "\n],\n\"categories\": [" + category(extremePoints: options.variety.extremePoints) + "]}\n"
            let url = dir.appendingPathComponent("annotations/person_keypoints_\(name).json")
            do { try writeAtomically(Data(json.utf8), to: url) } catch {
                throw PoseTrainingError.dataset(url.path, "cannot be written: \(error)")
            }
        }
        return summary
    }

    /// COCO's image file name for an id (the official image_path_from_index: %012d.jpg).
    public static func fileName(id: Int) -> String { String(format: "%012d.jpg", id) }

    /// COCO's person category with its 17 keypoint names and 1-based skeleton, or the four
    /// extreme points joined in a loop.
    static func category(extremePoints: Bool) -> String {
        let set = extremePoints ? KeypointSet.extremes : KeypointSet.coco
        let names = set.names.map { "\"\($0)\"" }.joined(separator: ", ")
        let skeleton = set.skeleton.map { "[\($0[0] + 1), \($0[1] + 1)]" }.joined(separator: ", ")
        return "{\"id\": 1, \"name\": \"person\", \"supercategory\": \"person\", \"keypoints\": [\(names)], \"skeleton\": [\(skeleton)]}"
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
    }
    static func number(_ values: [Double]) -> String { values.map(format).joined(separator: ", ") }

    /// Creates DIR, images/train, images/val and annotations; refuses a folder that has files
    /// unless `force`, and names the folder that cannot be created or written.
    static func prepare(_ dir: URL, force: Bool) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: dir.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw PoseTrainingError.dataset(dir.path, "exists and is not a folder") }
            let contents = (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
            if !contents.isEmpty && !force {
                throw PoseTrainingError.dataset(dir.path, "is not empty (\(contents.count) entries); pass --force to write into it")
            }
        }
        for sub in ["", "images/train", "images/val", "annotations"] {
            let url = sub.isEmpty ? dir : dir.appendingPathComponent(sub)
            do { try fm.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                throw PoseTrainingError.dataset(url.path, "cannot create the folder (\(error.localizedDescription))")
            }
        }
        // Probe that files can be written (permissions, read-only mounts) before any work.
        let probe = dir.appendingPathComponent("annotations/.write-test-\(UUID().uuidString)")
        guard fm.createFile(atPath: probe.path, contents: Data()) else {
            throw PoseTrainingError.dataset(dir.path, "is not writable")
        }
        try? fm.removeItem(at: probe)
    }
}

/// Per-image results of one chunk; each worker writes only its own index.
private struct Slots: @unchecked Sendable {
    let scenes: UnsafeMutableBufferPointer<[SyntheticPerson]?>
    let failures: UnsafeMutableBufferPointer<String?>
}

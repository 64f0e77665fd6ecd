import Classification
import DNN
import Detection
import Foundation
import HRNet
import Imaging
import Pose
import Segmentation

/// What a served model does.
public enum ServedTask: String, Sendable, CaseIterable {
    case pose, segment, classify, detect
}

/// One entry of the models file (`hrnet serve --models FILE`):
///
/// ```yaml
/// models:
///   - name: pose                 # the `model=` of a request; the first of a task is its default
///     task: pose                 # pose | segment | classify | detect
///     preset: pose_w32_256x192   # or config: FILE (official YAML; detect: mmdet Python config)
///     weights: w32.pth           # optional for the embedded pose_default / person_default;
///                                # `random`: random weights (for load tests only: the answers mean nothing)
///     precision: fp32            # fp32 (default) | bf16 | int8 (weights carrying `hrnet quantize`'s table)
///     threads: 2                 # this model's threads (default: the server's)
///     detector: person           # pose: the detect model that finds people when a request has no box
///   - name: person
///     task: detect
///     preset: person_default
/// ```
public struct ModelEntry: Sendable, Equatable {
    public var name: String
    public var task: ServedTask
    public var config: String?
    public var preset: String?
    public var weights: String?
    public var precision = "fp32"
    public var detector: String?
    /// Threads of this model's runs (nil: the server's `--threads`).
    public var threads: Int?

    public init(name: String, task: ServedTask, config: String? = nil, preset: String? = nil, weights: String? = nil,
                precision: String = "fp32", detector: String? = nil) {
        (self.name, self.task, self.config, self.preset, self.weights, self.precision, self.detector) =
            (name, task, config, preset, weights, precision, detector)
    }

    /// With no models file: the embedded pose model, which finds people with the embedded detector.
    public static let defaults = [
        ModelEntry(name: "pose", task: .pose, preset: DefaultModel.presetName, detector: "person"),
        ModelEntry(name: "person", task: .detect, preset: DefaultDetector.presetName),
    ]

    /// Reads a models file; errors name the file, the entry and the key.
    public static func load(_ url: URL) throws -> [ModelEntry] {
        let name = url.lastPathComponent
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw ServerError(.internalServerError, "\(name): " + (FileManager.default.fileExists(atPath: url.path) ? "cannot be read as UTF-8 text" : "no such file"))
        }
        return try parse(text, source: name, base: url.deletingLastPathComponent())
    }

    /// Paths in the file are relative to `base` (the file's folder).
    public static func parse(_ text: String, source: String, base: URL) throws -> [ModelEntry] {
        func fail(_ why: String) -> ServerError { ServerError(.internalServerError, "\(source): \(why)") }
        let root: Any?
        do { root = try BoundedYAML.load(text) } catch { throw fail("not valid YAML: \(error)") }
        guard let doc = root as? [String: Any], let list = doc["models"] as? [Any] else {
            throw fail("expected a mapping with a `models` list")
        }
        guard !list.isEmpty, list.count <= 64 else { throw fail("`models` must list 1...64 models, got \(list.count)") }
        var entries: [ModelEntry] = []
        for (i, item) in list.enumerated() {
            guard let m = item as? [String: Any] else { throw fail("models[\(i)] is not a mapping") }
            func string(_ key: String) throws -> String? {
                guard let v = m[key] else { return nil }
                guard let s = v as? String, !s.isEmpty else { throw fail("models[\(i)].\(key) must be a non-empty string, got \(v)") }
                return s
            }
            let known: Set<String> = ["name", "task", "config", "preset", "weights", "precision", "detector", "threads"]
            if let extra = m.keys.first(where: { !known.contains($0) }) {
                throw fail("models[\(i)] has an unknown key `\(extra)` (known: \(known.sorted().joined(separator: ", ")))")
            }
            guard let name = try string("name") else { throw fail("models[\(i)].name is missing") }
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || "_-.".contains($0) }) else {
                throw fail("models[\(i)].name '\(name)' may hold only letters, digits, _ - .")
            }
            guard let taskName = try string("task"), let task = ServedTask(rawValue: taskName) else {
                throw fail("models[\(i)] (\(name)).task must be one of \(ServedTask.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            func path(_ key: String) throws -> String? {
                try string(key).map { $0.hasPrefix("/") || $0 == "random" ? $0 : base.appendingPathComponent($0).path }
            }
            var e = ModelEntry(name: name, task: task, config: try path("config"), preset: try string("preset"),
                               weights: try path("weights"), detector: try string("detector"))
            if let p = try string("precision") {
                guard ["fp32", "bf16", "int8"].contains(p) else { throw fail("models[\(i)] (\(name)).precision must be fp32, bf16 or int8, got \(p)") }
                e.precision = p
            }
            if let t = m["threads"] {
                guard let n = t as? Int, (1...1024).contains(n) else { throw fail("models[\(i)] (\(name)).threads must be 1...1024, got \(t)") }
                e.threads = n
            }
            if e.config != nil && e.preset != nil { throw fail("models[\(i)] (\(name)) gives both config and preset") }
            if entries.contains(where: { $0.name == name }) { throw fail("two models are named \(name)") }
            entries.append(e)
        }
        for e in entries {
            guard let d = e.detector, d != "none" else { continue }
            guard e.task == .pose else { throw fail("\(e.name): `detector` is for pose models") }
            guard entries.contains(where: { $0.name == d && $0.task == .detect }) else {
                throw fail("\(e.name): detector \(d) is not a detect model of this file")
            }
        }
        return entries
    }
}

/// A loaded model and the library front-end that answers for it. The front-ends are not safe
/// to call concurrently: the server runs them on its one compute queue (`ComputeQueue`).
public final class ServedModel: @unchecked Sendable {
    public let entry: ModelEntry
    public private(set) var pose: PoseEstimator?
    public private(set) var segmenter: Segmenter?
    public private(set) var classifier: (model: Classifier, preprocessing: ClassificationPreprocessing)?
    public private(set) var detector: Detector?
    /// Pose: the detect model that finds people when a request names no box.
    public internal(set) var personDetector: ServedModel?

    public var name: String { entry.name }
    public var task: ServedTask { entry.task }

    /// Loads the model an entry names. `exactBatching`: pose plans use direct convolutions,
    /// whose per-image sums do not depend on the batch (Winograd's differ by ~3e-7 between batch
    /// sizes), so a request's answer never depends on what it was batched with.
    public init(_ entry: ModelEntry, threads: Int?, exactBatching: Bool = true, maxBatch: Int = 8) throws {
        self.entry = entry
        let threads = entry.threads ?? threads
        var plan = Plan.Options()
        if entry.precision == "bf16" { plan.bf16 = true }
        if entry.task == .detect {
            detector = try Detector.load(config: entry.config.map(URL.init(fileURLWithPath:)), preset: entry.preset,
                                         weights: entry.weights.map(URL.init(fileURLWithPath:)), options: .init(threads: threads, plan: plan))
            return
        }
        let (model, parameters) = try Self.hrnet(entry)
        if entry.precision == "int8" {
            guard let w = entry.weights, let table = try QuantizationTable.load(safetensors: URL(fileURLWithPath: w)) else {
                throw ServerError(.internalServerError, "\(entry.name): precision int8 needs weights made by `hrnet quantize` (a .safetensors with its table)")
            }
            try table.check(against: model.graph, source: URL(fileURLWithPath: w).lastPathComponent)
            plan.int8 = table
        }
        switch entry.task {
        case .pose:
            guard model.config.task == .pose else { throw ServerError(.internalServerError, "\(entry.name): \(model.config.source) is not a pose model") }
            var options = PoseEstimator.Options(config: model.config)
            options.threads = threads
            options.batchSize = maxBatch
            // Every padded batch size (powers of two up to maxBatch, doubled by flip test) stays compiled.
            options.planCapacity = 2 * (Int.bitWidth - maxBatch.leadingZeroBitCount) + 2
            if exactBatching && maxBatch > 1 { plan.winograd = false }
            options.plan = plan
            pose = try PoseEstimator(config: model.config, parameters: parameters, options: options)
        case .segment:
            segmenter = try Segmenter(model: model, parameters: parameters, threads: threads, planOptions: plan)
        case .classify:
            let c = model.config
            classifier = (try Classifier(config: c, parameters: parameters, threads: threads, options: plan),
                          .validation(width: c.imageSize.width, height: c.imageSize.height))
        case .detect:
            break
        }
    }

    /// An HRNet config and its weights: a config file or a preset; the embedded default pose model
    /// when the entry names it (or nothing) and gives no weights.
    static func hrnet(_ e: ModelEntry) throws -> (HRNetModel, [String: Tensor]) {
        let preset = e.preset ?? (e.config == nil ? DefaultModel.presetName : nil)
        if preset?.lowercased() == DefaultModel.presetName, e.weights == nil {
            let (model, parameters) = try DefaultModel.load()
            return (model, parameters)
        }
        let config = try e.config.map { try HRNetConfig.load(URL(fileURLWithPath: $0)) } ?? Presets.config(named: preset!)
        let model = HRNetModel(config: config)
        guard let w = e.weights else { throw ServerError(.internalServerError, "\(e.name): give `weights` for \(config.source)") }
        if w.hasSuffix("/random") || w == "random" { return (model, model.graph.randomParameters(seed: 0)) }
        return (model, try model.loadWeights(URL(fileURLWithPath: w)).parameters)
    }
}

import FileSupport
import Foundation

/// Where a training run is, besides its tensors: saved in the checkpoint's JSON.
public struct TrainingProgress: Codable, Sendable, Equatable {
    /// Optimizer steps taken.
    public var step: Int
    public var epoch: Int
    /// Steps already taken inside `epoch` (a run stopped mid-epoch resumes at the next batch).
    public var epochStep: Int
    /// The run's random generator position (`SplitMix64.position`), so augmentation resumes exactly.
    public var rngPosition: UInt64
    public var baseLearningRate: Float
    public var schedule: LRSchedule?
    /// Anything else the caller wants back (config name, best metric...).
    public var metadata: [String: String]

    public init(step: Int = 0, epoch: Int = 0, epochStep: Int = 0, rngPosition: UInt64 = 0, baseLearningRate: Float,
                schedule: LRSchedule? = nil, metadata: [String: String] = [:]) {
        (self.step, self.epoch, self.epochStep, self.rngPosition, self.baseLearningRate, self.schedule, self.metadata) =
            (step, epoch, epochStep, rngPosition, baseLearningRate, schedule, metadata)
    }

    /// Epoch, step inside it and steps in all, as the trainers keep them.
    public var position: TrainingPosition {
        get { TrainingPosition(epoch: epoch, epochStep: epochStep, step: step) }
        set { (epoch, epochStep, step) = (newValue.epoch, newValue.epochStep, newValue.step) }
    }

    enum CodingKeys: String, CodingKey { case step, epoch, epochStep, rngPosition, baseLearningRate, schedule, metadata }

    /// Checkpoints written before `epochStep` existed were saved at epoch ends: 0.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        step = try c.decode(Int.self, forKey: .step)
        epoch = try c.decode(Int.self, forKey: .epoch)
        epochStep = try c.decodeIfPresent(Int.self, forKey: .epochStep) ?? 0
        rngPosition = try c.decode(UInt64.self, forKey: .rngPosition)
        baseLearningRate = try c.decode(Float.self, forKey: .baseLearningRate)
        schedule = try c.decodeIfPresent(LRSchedule.self, forKey: .schedule)
        metadata = try c.decode([String: String].self, forKey: .metadata)
    }
}


/// Training checkpoints: weights, BN statistics and optimizer state in a safetensors file,
/// step, schedule and RNG in a small JSON that names it.
///
/// Saving is crash-safe: the tensors go to a new uniquely named file (written to a temporary
/// and renamed), then the JSON is replaced atomically to point at it, then the old tensors
/// file is removed. The JSON's rename is the commit: a process killed at any moment leaves
/// either the old checkpoint or the new one loadable, never a mix.
public enum TrainingCheckpoint {
    static let format = "hrnet-swift training checkpoint"

    struct Manifest: Codable {
        var format: String
        var version: Int
        /// The tensors file, in the JSON's folder.
        var tensors: String
        var tensorsBytes: Int
        var progress: TrainingProgress
        var batchesTracked: Int64
        var optimizer: [String: Double]
        var frozen: [String]
    }

    /// Where a test makes `save` stop, as a kill at that moment would.
    public enum CrashPoint: Sendable { case whileWritingTensors, beforeCommit, whileWritingManifest }
    public struct SimulatedCrash: Error {}

    /// Saves the run to `url` (the JSON; the tensors file goes next to it).
    public static func save(_ url: URL, parameters: ParameterStore, optimizer: Optimizer, progress: TrainingProgress,
                            simulatingCrashAt crash: CrashPoint? = nil) throws {
        let dir = url.deletingLastPathComponent()
        let base = url.deletingPathExtension().lastPathComponent
        let previous = try? readManifest(url)
        var tensors: [String: StoredTensor] = [:]
        for (k, t) in parameters.state() { tensors["model.\(k)"] = StoredTensor(t) }
        for (k, t) in optimizer.state(parameters) { tensors["optimizer.\(k)"] = StoredTensor(t) }
        let data = SafeTensors.encode(tensors, metadata: ["format": format])
        let name = "\(base)-step\(progress.step)-\(UUID().uuidString.prefix(8).lowercased()).safetensors"
        let tensorsURL = dir.appendingPathComponent(name)
        if crash == .whileWritingTensors {
            try data.prefix(data.count / 2).write(to: dir.appendingPathComponent(".\(name).partial.tmp"))
            throw SimulatedCrash()
        }
        try writeAtomically(data, to: tensorsURL)
        if crash == .beforeCommit { throw SimulatedCrash() }

        let manifest = Manifest(format: format, version: 1, tensors: name, tensorsBytes: data.count, progress: progress,
                                batchesTracked: parameters.batchesTracked, optimizer: optimizer.description,
                                frozen: parameters.entries.filter(\.frozen).map(\.key))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try encoder.encode(manifest)
        if crash == .whileWritingManifest {
            try json.prefix(json.count / 2).write(to: dir.appendingPathComponent(".\(url.lastPathComponent).partial.tmp"))
            throw SimulatedCrash()
        }
        try writeAtomically(json, to: url)
        // Committed: the previous tensors file and leftovers of interrupted saves can go.
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        for file in leftovers where file != name && (file.hasPrefix("\(base)-step") && file.hasSuffix(".safetensors")
                                                     || file.hasPrefix(".\(base)") && file.hasSuffix(".tmp")) {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent(file))
        }
        if let old = previous?.tensors, old != name { try? FileManager.default.removeItem(at: dir.appendingPathComponent(old)) }
    }

    static func readManifest(_ url: URL) throws -> Manifest {
        let data = try readFile(url)
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw DNNError.checkpoint(url, "not a training checkpoint JSON (\(error))")
        }
        guard manifest.format == format else { throw DNNError.checkpoint(url, "format is '\(manifest.format)', expected '\(format)'") }
        guard manifest.version == 1 else { throw DNNError.checkpoint(url, "version \(manifest.version) is newer than this program reads (1)") }
        guard !manifest.tensors.contains("/"), manifest.tensors != "..", !manifest.tensors.isEmpty else {
            throw DNNError.checkpoint(url, "tensors file '\(manifest.tensors)' must be in the same folder")
        }
        // A position no run can reach is a damaged or hand-edited file, not a place to resume from.
        let p = manifest.progress
        guard p.epoch >= 0, p.step >= 0, p.epochStep >= 0, p.epochStep <= p.step, manifest.tensorsBytes >= 0,
              manifest.batchesTracked >= 0, p.baseLearningRate.isFinite, p.baseLearningRate >= 0 else {
            throw DNNError.checkpoint(url, "holds an impossible position (epoch \(p.epoch), step \(p.step), step in epoch \(p.epochStep), "
                                  + "rate \(p.baseLearningRate), \(manifest.batchesTracked) batches): damaged or edited")
        }
        return manifest
    }

    /// The progress and metadata a checkpoint JSON records (validated), without its tensors:
    /// what a resumed run reads first to restore its settings.
    public static func progress(of url: URL) throws -> TrainingProgress { try readManifest(url).progress }

    /// A run's tensor file read as weights (`--weights run/checkpoint-stepN.safetensors`): the
    /// model's keys without their `model.` prefix, the optimizer's state dropped. Tensors of any
    /// other checkpoint pass unchanged.
    public static func modelWeights(_ tensors: [String: Tensor]) -> [String: Tensor] {
        guard tensors.keys.contains(where: { $0.hasPrefix("model.") }),
              tensors.keys.allSatisfy({ $0.hasPrefix("model.") || $0.hasPrefix("optimizer.") }) else { return tensors }
        return Checkpoint.tensors(under: "model.", in: tensors)
    }

    /// Restores a run saved by `save` into `parameters` and `optimizer`; returns its progress.
    public static func load(_ url: URL, parameters: ParameterStore, optimizer: Optimizer) throws -> TrainingProgress {
        let manifest = try readManifest(url)
        let tensorsURL = url.deletingLastPathComponent().appendingPathComponent(manifest.tensors)
        let data = try readFile(tensorsURL)
        guard data.count == manifest.tensorsBytes else {
            throw DNNError.checkpoint(tensorsURL, "has \(data.count) bytes, the checkpoint JSON says \(manifest.tensorsBytes) (truncated or replaced)")
        }
        let savedKind = manifest.optimizer.keys.first { ["sgd", "adam", "adamw"].contains($0) }
        let kind = optimizer.description.keys.first { ["sgd", "adam", "adamw"].contains($0) }
        guard savedKind == kind else {
            throw DNNError.checkpoint(url, "was saved with optimizer \(savedKind ?? "?"), resuming with \(kind ?? "?")")
        }
        let stored = try SafeTensors.parse(data, tensorsURL).tensors
        var model: [String: Tensor] = [:], opt: [String: Tensor] = [:]
        for (k, t) in stored {
            guard t.dtype == .float32 else { throw DNNError.checkpoint(tensorsURL, "tensor \(k) is \(t.dtype.rawValue), expected F32") }
            if k.hasPrefix("model.") { model[String(k.dropFirst(6))] = t.floatTensor() }
            else if k.hasPrefix("optimizer.") { opt[String(k.dropFirst(10))] = t.floatTensor() }
        }
        // Optimizer state is "<state>.<parameter key>": state for no parameter (a renamed key) would be dropped silently.
        let known = Set(parameters.entries.map(\.key))
        if let stray = opt.keys.sorted().first(where: { k in
            guard let dot = k.firstIndex(of: ".") else { return true }
            return !known.contains(String(k[k.index(after: dot)...]))
        }) {
            throw DNNError.checkpoint(tensorsURL, "optimizer state '\(stray)' belongs to no parameter of the model (renamed or edited?)")
        }
        let expected = Set(parameters.state().keys)
        let missing = expected.subtracting(model.keys).sorted(), unexpected = Set(model.keys).subtracting(expected).sorted()
        guard missing.isEmpty, unexpected.isEmpty else {
            throw DNNError.checkpoint(tensorsURL, "does not fit the model: missing \(missing.prefix(5)), unexpected \(unexpected.prefix(5))")
        }
        for (k, t) in model {
            do { try parameters.setValue(k, t) } catch { throw DNNError.checkpoint(tensorsURL, "\(error)") }
        }
        do { try optimizer.loadState(opt, parameters) } catch { throw DNNError.checkpoint(tensorsURL, "\(error)") }
        parameters.freeze(prefixes: parameters.entries.map(\.key), false)
        parameters.freeze(prefixes: manifest.frozen)
        parameters.batchesTracked = manifest.batchesTracked
        return manifest.progress
    }

    /// Writes the weights and BN statistics under the official state-dict keys, with an int64
    /// `num_batches_tracked` for every BN, so `model.load_state_dict(safetensors.torch.load_file(...))`
    /// of the official PyTorch code takes it with `strict=True`. Never replaces a file unless `overwrite`.
    /// - Parameter classes: the class names the outputs stand for (a detector's, classifier's or
    ///   segmenter's), kept in the file's metadata (`classes`, one per line) so that loaders name them.
    public static func exportWeights(_ parameters: ParameterStore, to url: URL, overwrite: Bool = false, classes: [String]? = nil) throws {
        if !overwrite, FileManager.default.fileExists(atPath: url.path) {
            throw DNNError.checkpoint(url, "already exists (use --force to replace it)")
        }
        var tensors: [String: StoredTensor] = [:]
        for (k, t) in parameters.state() {
            tensors[k] = StoredTensor(t)
            if k.hasSuffix(".running_mean") {
                tensors[String(k.dropLast("running_mean".count)) + "num_batches_tracked"] = StoredTensor(int64: parameters.batchesTracked)
            }
        }
        var metadata = ["format": "pt"]
        if let classes, !classes.isEmpty { metadata[CheckpointMetadata.classesKey] = classes.joined(separator: "\n") }
        try writeAtomically(SafeTensors.encode(tensors, metadata: metadata), to: url)
    }
}

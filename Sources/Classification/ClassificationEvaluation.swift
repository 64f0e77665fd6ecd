import DNN
import Collectives
import Foundation
import Imaging

extension ImageFolder {
    /// The model output each class folder stands for.
    ///
    /// - With labels (a labels file, or ImageNet-1k's built in for a 1000-class model) that name
    ///   every folder, by name; ImageNet folders named by WordNet ID (n01440764 ...) map to
    ///   their ImageNet index. Then the folders may be any subset of the model's classes.
    /// - Otherwise folder i (sorted) is output i, as torchvision's ImageFolder, and the number of
    ///   folders must equal the model's classes.
    public func modelIndices(classes: Int, labels: ClassLabels?) throws -> [Int] {
        if let labels {
            let byName = Dictionary(labels.names.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            if self.classes.allSatisfy({ byName[$0] != nil }) { return self.classes.map { byName[$0]! } }
            if labels == .imageNet {
                let bySynset = Dictionary(uniqueKeysWithValues: ClassLabels.imageNetWordNetIDs.enumerated().map { ($1, $0) })
                if self.classes.allSatisfy({ bySynset[$0] != nil }) { return self.classes.map { bySynset[$0]! } }
            }
        }
        guard self.classes.count == classes else {
            throw ClassificationError("\(root.path) has \(self.classes.count) class folders but the model has \(classes) classes; "
                                      + "folders map to outputs in sorted order unless their names are the model's class names "
                                      + "(--labels FILE, or ImageNet WordNet IDs such as n01440764)")
        }
        return Array(0..<classes)
    }
}

/// Top-1 / top-5 accuracy over a labelled set.
public struct ClassificationAccuracy: Sendable, Equatable {
    public var images = 0
    public var top1Correct = 0
    public var top5Correct = 0
    /// Mean cross-entropy of the true class (natural log).
    public var lossSum = 0.0
    public var top1: Double { images > 0 ? Double(top1Correct) / Double(images) : 0 }
    public var top5: Double { images > 0 ? Double(top5Correct) / Double(images) : 0 }
    public var meanLoss: Double { images > 0 ? lossSum / Double(images) : .nan }

    public init() {}

    /// Adds one image's logits and its true class.
    public mutating func add<C: Collection>(logits: C, truth: Int) where C.Element == Float, C.Index == Int {
        let ranked = Scores.topIndices(logits, k: 5)
        images += 1
        if ranked.first == truth { top1Correct += 1 }
        if ranked.contains(truth) { top5Correct += 1 }
        let p = Scores.softmax(logits)
        lossSum += -Foundation.log(Double(max(p[truth], .leastNormalMagnitude)))
    }
}

/// Evaluates a classifier on an image folder with the validation pre-processing: images are
/// decoded and prepared on `threads` threads, `batchSize` at a time.
public struct ClassificationEvaluation {
    public let folder: ImageFolder
    public let preprocessing: ClassificationPreprocessing
    /// Model output of each folder class (`ImageFolder.modelIndices`).
    public let indices: [Int]
    public var batchSize = 32
    public var threads = 2
    /// Processes sharing the work (`mpirun`); one by default.
    public var communicator: any Communicator = SingleProcess()

    public init(folder: ImageFolder, preprocessing: ClassificationPreprocessing, indices: [Int]) {
        (self.folder, self.preprocessing, self.indices) = (folder, preprocessing, indices)
    }

    /// The normalized batch of samples `range` (decode errors name the file).
    public func batch(_ range: Range<Int>) throws -> Tensor {
        var images = [Image?](repeating: nil, count: range.count)
        var failures = [String?](repeating: nil, count: range.count)
        let folder = self.folder
        images.withUnsafeMutableBufferPointer { imageBuffer in
            failures.withUnsafeMutableBufferPointer { failureBuffer in
                let slots = DecodeSlots(images: imageBuffer, failures: failureBuffer)
                let work: @Sendable (Int) -> Void = { k in
                    do { slots.images[k] = try folder.image(range.lowerBound + k) } catch { slots.failures[k] = "\(error)" }
                }
                if threads <= 1 || range.count <= 1 {
                    for k in 0..<range.count { work(k) }
                } else {
                    DispatchQueue.concurrentPerform(iterations: range.count, execute: work)
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw ClassificationError(failure) }
        return preprocessing.batch(images.compactMap { $0 }, threads: threads)
    }

    /// Runs `logits` (a normalized batch -> (N, classes) logits) over the whole folder.
    /// `progress` hears the images done so far and the running accuracy.
    /// With several processes (`communicator`) each runs every size-th batch and the counts are
    /// added: every process gets the whole folder's accuracy (top-1 and top-5 exactly as one
    /// process; the mean loss summed in another order).
    public func run(logits: (Tensor) throws -> Tensor,
                    progress: (Int, ClassificationAccuracy) -> Void = { _, _ in }) throws -> ClassificationAccuracy {
        var accuracy = ClassificationAccuracy()
        let step = max(1, batchSize)
        for start in stride(from: communicator.rank * step, to: folder.count, by: step * communicator.size) {
            let range = start..<min(start + max(1, batchSize), folder.count)
            let rows = try Scores.rows(try logits(try batch(range)))
            guard rows.count == range.count else {
                throw ClassificationError("the model returned \(rows.count) rows for \(range.count) images")
            }
            for (k, row) in rows.enumerated() {
                let truth = indices[folder.samples[range.lowerBound + k].label]
                guard truth < row.count else { throw ClassificationError("class \(truth) is beyond the model's \(row.count) outputs") }
                accuracy.add(logits: Array(row), truth: truth)
            }
            progress(accuracy.images, accuracy)
        }
        guard communicator.size > 1 else { return accuracy }
        var totals = [Double(accuracy.images), Double(accuracy.top1Correct), Double(accuracy.top5Correct), accuracy.lossSum]
        try totals.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        (accuracy.images, accuracy.top1Correct, accuracy.top5Correct, accuracy.lossSum) = (Int(totals[0]), Int(totals[1]), Int(totals[2]), totals[3])
        return accuracy
    }
}

private struct DecodeSlots: @unchecked Sendable {
    let images: UnsafeMutableBufferPointer<Image?>
    let failures: UnsafeMutableBufferPointer<String?>
}

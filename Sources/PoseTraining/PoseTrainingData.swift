import DNN
import Foundation
import Imaging
import Pose

/// A data set with its augmentation, producing batches for the training loop: per epoch a
/// seeded shuffle, per sample a seeded augmentation, images read as the official code reads
/// them (stored pixels, EXIF orientation ignored: IMREAD_IGNORE_ORIENTATION).
///
/// Deterministic: the same seed gives the same batches, whatever the thread count.
/// Never skips: an image that is missing, unreadable or not the size its annotations state is
/// an error naming the file.
public struct PoseTrainingData: Sendable {
    public var dataset: KeypointDataset
    public var augmentation: PoseAugmentation
    public var seed: UInt64
    /// false: validation crops (no random augmentation).
    public var augment: Bool

    public init(dataset: KeypointDataset, augmentation: PoseAugmentation, seed: UInt64 = 0, augment: Bool = true) throws {
        if let problem = augmentation.problem { throw PoseTrainingError.dataset(dataset.name, "augmentation: \(problem)") }
        if let bad = dataset.samples.first(where: { $0.joints.count != dataset.keypoints.count || $0.visibility.count != dataset.keypoints.count }) {
            throw PoseTrainingError.dataset(dataset.name, "annotation \(bad.annotationID) has \(bad.joints.count) joints; the data set has \(dataset.keypoints.count) keypoints")
        }
        (self.dataset, self.augmentation, self.seed, self.augment) = (dataset, augmentation, seed, augment)
    }

    public var count: Int { dataset.count }

    /// The sample order of an epoch: a Fisher-Yates shuffle seeded by (seed, epoch) when
    /// augmenting (the official TRAIN.SHUFFLE), else the data set's order.
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<count)
        guard augment else { return order }
        var random = AugmentationRandom(seed: seed, epoch: epoch, index: -1)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, random.int(below: i + 1)) }
        return order
    }

    /// The random draws of sample `index` in `epoch`.
    public func draws(index: Int, epoch: Int) -> AugmentationDraws {
        var random = AugmentationRandom(seed: seed, epoch: epoch, index: index)
        return AugmentationDraws(&random)
    }

    /// Reads a sample's image (stored pixels, as cv2.imread with IMREAD_IGNORE_ORIENTATION).
    public func image(of sample: KeypointSample) throws -> Image {
        let image: Image
        do { image = try Image.load(sample.image, applyOrientation: false) } catch {
            throw PoseTrainingError.dataset(sample.image.path, "cannot be read for annotation \(sample.annotationID) of \(dataset.name): \(error)")
        }
        if sample.imageWidth > 0, sample.imageHeight > 0, (image.width, image.height) != (sample.imageWidth, sample.imageHeight) {
            throw PoseTrainingError.dataset(sample.image.path, "is \(image.width)x\(image.height) but \(dataset.name) says \(sample.imageWidth)x\(sample.imageHeight)")
        }
        return image
    }

    /// Sample `index` of the data set as it is seen in `epoch`.
    public func example(index: Int, epoch: Int) throws -> TrainingExample {
        guard dataset.samples.indices.contains(index) else {
            throw PoseTrainingError.dataset(dataset.name, "sample \(index) is outside 0..<\(count)")
        }
        let sample = dataset.samples[index]
        return augmentation.example(sample, image: try image(of: sample), flipPairs: dataset.keypoints.flipPairs,
                                    upperBody: dataset.upperBody, draws: draws(index: index, epoch: epoch), augment: augment)
    }

    /// A batch as the training loop consumes it: input (N, 3, H, W), target (N, J, h, w),
    /// target weight (N, J, 1). Samples are prepared on `threads` threads; the result does not
    /// depend on the thread count.
    public func batch(_ indices: [Int], epoch: Int, threads: Int = 1) throws -> PoseBatch {
        let n = indices.count, joints = dataset.keypoints.count
        let (w, h) = augmentation.imageSize, (hw, hh) = augmentation.heatmapSize
        let inputSize = 3 * w * h, targetSize = joints * hw * hh
        var input = [Float](repeating: 0, count: n * inputSize)
        var target = [Float](repeating: 0, count: n * targetSize)
        var weight = [Float](repeating: 0, count: n * joints)
        var failures = [String?](repeating: nil, count: n)
        input.withUnsafeMutableBufferPointer { inputBuffer in
            target.withUnsafeMutableBufferPointer { targetBuffer in
                weight.withUnsafeMutableBufferPointer { weightBuffer in
                    failures.withUnsafeMutableBufferPointer { failureBuffer in
                        let slots = BatchSlots(input: inputBuffer, target: targetBuffer, weight: weightBuffer, failures: failureBuffer)
                        let work: @Sendable (Int) -> Void = { k in
                            do {
                                let e = try self.example(index: indices[k], epoch: epoch)
                                for i in 0..<inputSize { slots.input[k * inputSize + i] = e.input[i] }
                                for i in 0..<targetSize { slots.target[k * targetSize + i] = e.target[i] }
                                for i in 0..<joints { slots.weight[k * joints + i] = e.targetWeight[i] }
                            } catch {
                                slots.failures[k] = "\(error)"
                            }
                        }
                        if threads <= 1 || n <= 1 {
                            for k in 0..<n { work(k) }
                        } else {
                            DispatchQueue.concurrentPerform(iterations: n, execute: work)
                        }
                    }
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw PoseTrainingError.dataset(dataset.name, failure) }
        return PoseBatch(input: Tensor(shape: [n, 3, h, w], scalars: input),
                         target: Tensor(shape: [n, joints, hh, hw], scalars: target),
                         targetWeight: Tensor(shape: [n, joints, 1], scalars: weight), indices: indices)
    }
}

/// One training batch: the tensors the loss needs and which samples they are.
public struct PoseBatch: Sendable {
    public var input: Tensor
    public var target: Tensor
    /// (N, J, 1), as the official target_weight.
    public var targetWeight: Tensor
    public var indices: [Int]
}

/// Output buffers shared by the workers of one batch; each worker writes only its own slots.
private struct BatchSlots: @unchecked Sendable {
    let input: UnsafeMutableBufferPointer<Float>
    let target: UnsafeMutableBufferPointer<Float>
    let weight: UnsafeMutableBufferPointer<Float>
    let failures: UnsafeMutableBufferPointer<String?>
}

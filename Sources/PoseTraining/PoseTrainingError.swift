import Foundation

/// Every error of pose training: a keypoint data set that cannot be read or used (naming the
/// file), or a training run that cannot start.
public struct PoseTrainingError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable, Equatable {
        /// Annotations, images or samples of a keypoint data set (COCO, MPII, synthetic).
        case dataset
        /// A model or recipe that this trainer cannot train.
        case training
    }

    public let kind: Kind
    /// The file concerned (data set problems).
    public let file: String?
    public let problem: String

    public init(_ kind: Kind, file: String? = nil, _ problem: String) { (self.kind, self.file, self.problem) = (kind, file, problem) }

    public var description: String { file.map { "\($0): \(problem)" } ?? problem }

    /// A data set problem in `file`.
    public static func dataset(_ file: String, _ problem: String) -> PoseTrainingError { PoseTrainingError(.dataset, file: file, problem) }
    static func training(_ problem: String) -> PoseTrainingError { PoseTrainingError(.training, problem) }
}

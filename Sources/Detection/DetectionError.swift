import Foundation

/// Every error of the detection module but the config language's own (`PythonConfigError`, with
/// its line and column): the kind of problem and what is wrong, naming the file or preset.
public struct DetectionError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable, Equatable {
        /// Choosing or building a detector: presets, configs read into a model, weights, inputs.
        case model
        /// Scoring on a COCO-format set.
        case evaluation
        /// A training run that cannot start or go on (data, classes, targets, sizes).
        case training
    }

    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) { (self.kind, self.description) = (kind, description) }
    /// A `.model` error.
    public init(_ description: String) { self.init(.model, description) }

    static func training(_ description: String) -> DetectionError { DetectionError(.training, description) }
}

import Foundation

/// Every error the engine throws: what kind of thing went wrong, the file when one is
/// concerned, and the problem in words. `description` is the one line the CLI prints
/// ("w.pth: tensor conv1.weight: ...", "oneDNN ... failed: ...").
public struct DNNError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable, Equatable {
        /// A tensor file (checkpoint, safetensors, NPY, training checkpoint) that cannot be
        /// read, is malformed or does not fit the model.
        case checkpoint
        /// A oneDNN call failed (the problem names the call and oneDNN's status).
        case oneDNN
        /// A graph that cannot be built or compiled for the given shapes or parameters.
        case graph
        /// A loss given tensors of the wrong shapes or values.
        case loss
        /// An int8 calibration table that does not fit the model.
        case quantization
        /// A training run that cannot start or go on (data parallel agreement, batches).
        case training
    }

    public let kind: Kind
    /// The file's name, when the problem is in a file.
    public let file: String?
    public let problem: String

    public init(_ kind: Kind, file: String? = nil, _ problem: String) {
        (self.kind, self.file, self.problem) = (kind, file, problem)
    }

    public var description: String { file.map { "\($0): \(problem)" } ?? problem }

    /// A tensor file named by `url` is wrong in the way `problem` says.
    public static func checkpoint(_ url: URL, _ problem: String) -> DNNError { DNNError(.checkpoint, file: url.lastPathComponent, problem) }
    static func oneDNN(call: String, status: String) -> DNNError { DNNError(.oneDNN, "oneDNN \(call) failed: \(status)") }
    public static func graph(_ problem: String) -> DNNError { DNNError(.graph, problem) }
    public static func loss(_ problem: String) -> DNNError { DNNError(.loss, problem) }
    public static func quantization(_ problem: String) -> DNNError { DNNError(.quantization, problem) }
    public static func training(_ problem: String) -> DNNError { DNNError(.training, problem) }
}

import Foundation

/// Every error the data set readers throw: the kind of file, the file (or data set) concerned,
/// and what is wrong with it.
public struct DatasetError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable, Equatable {
        /// A COCO annotation or results file, or a COCO-style split folder.
        case coco
        /// A MATLAB .mat file (MPII's ground truth).
        case mat
        /// PCKh evaluation given predictions or ground truth that do not fit.
        case pckh
    }

    public let kind: Kind
    /// The file (or folder) concerned, as given.
    public let file: String?
    public let problem: String

    public init(_ kind: Kind, file: String?, _ problem: String) {
        (self.kind, self.file, self.problem) = (kind, file, problem)
    }

    public var description: String { file.map { "\($0): \(problem)" } ?? problem }

    static func coco(_ file: String, _ problem: String) -> DatasetError { DatasetError(.coco, file: file, problem) }
    public static func mat(_ file: String, _ problem: String) -> DatasetError { DatasetError(.mat, file: file, problem) }
    static func pckh(_ problem: String) -> DatasetError { DatasetError(.pckh, file: nil, "PCKh: \(problem)") }
}

/// Segmentation input that cannot be used: a label map of the wrong size or with ids outside
/// the class list, an image without its label, a class list that disagrees with the model, bad
/// options. The description names the file (where there is one) and what is wrong.
public struct SegmentationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A person detection that the top-down pipeline crops around: a box in image pixels and the
/// detector's score (1 for a box given by hand).
public struct PersonBox: Equatable, Sendable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double
    public var score: Double

    public init(x: Double, y: Double, width: Double, height: Double, score: Double = 1) {
        (self.x, self.y, self.width, self.height, self.score) = (x, y, width, height, score)
    }

    /// The whole image as one box (what `hrnet pose` uses when no boxes are given).
    public static func whole(width: Int, height: Int) -> PersonBox {
        PersonBox(x: 0, y: 0, width: Double(width), height: Double(height))
    }

    /// Why this box cannot be cropped in an image of `width` x `height`, or nil when it can.
    /// A box may reach outside the image (the crop's border is black, as in the official code),
    /// but must be finite, have an extent (one side may be 0: the crop's aspect-ratio fix widens
    /// it, as the official `_xywh2cs` does; a point has no scale) and overlap the image.
    public func problem(imageWidth: Int, imageHeight: Int) -> String? {
        guard [x, y, width, height, score].allSatisfy(\.isFinite) else { return "has a value that is not a finite number" }
        guard width >= 0, height >= 0, width + height > 0 else { return "has no extent (\(width) x \(height))" }
        guard x < Double(imageWidth), y < Double(imageHeight), x + width >= 0, y + height >= 0 else {
            return "lies entirely outside the \(imageWidth)x\(imageHeight) image"
        }
        return nil
    }

    /// The first of `boxes` that cannot be cropped, as "box N <why>"; nil when every one can.
    public static func problem(among boxes: [PersonBox], imageWidth: Int, imageHeight: Int) -> String? {
        for (b, box) in boxes.enumerated() {
            if let why = box.problem(imageWidth: imageWidth, imageHeight: imageHeight) { return "box \(b) \(why)" }
        }
        return nil
    }
}

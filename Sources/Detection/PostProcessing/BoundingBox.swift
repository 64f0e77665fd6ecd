/// An axis-aligned box in pixels, corners (x1, y1) top left and (x2, y2) bottom right, as
/// mmdetection keeps them (float32; width x2 - x1, no +1).
public struct BoundingBox: Sendable, Equatable {
    public var x1, y1, x2, y2: Float
    public init(x1: Float, y1: Float, x2: Float, y2: Float) { (self.x1, self.y1, self.x2, self.y2) = (x1, y1, x2, y2) }

    public var width: Float { x2 - x1 }
    public var height: Float { y2 - y1 }
    public var area: Float { (x2 - x1) * (y2 - y1) }

    /// COCO's [x, y, width, height], the subtraction in double as mmdet's results JSON does it.
    public var xywh: [Double] { [Double(x1), Double(y1), Double(x2) - Double(x1), Double(y2) - Double(y1)] }

    /// Intersection over union as mmcv's NMS computes it (float32, overlap clamped at 0).
    public func iou(_ b: BoundingBox) -> Float {
        let w = max(0, min(x2, b.x2) - max(x1, b.x1)), h = max(0, min(y2, b.y2) - max(y1, b.y1))
        let inter = w * h
        return inter / (area + b.area - inter)
    }
}

/// One detected object: its box in image pixels, score and class label (index into the
/// detector's class names).
public struct Detection: Sendable, Equatable {
    public var box: BoundingBox
    public var score: Float
    public var label: Int
    public init(box: BoundingBox, score: Float, label: Int) { (self.box, self.score, self.label) = (box, score, label) }
}

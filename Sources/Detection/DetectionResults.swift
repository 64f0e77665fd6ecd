import Datasets
import Foundation
import Imaging

/// One detection of one image in COCO's detection results format, as mmdetection's
/// `CocoMetric.results2json` writes it, with `file_name` beside it (pycocotools ignores it;
/// `hrnet pose --boxes` matches images by it).
public struct DetectionResult: Sendable, Equatable {
    public var imageID: Int
    public var fileName: String
    public var detection: Detection
    /// COCO category id (person 1); for a model with other classes, label + 1.
    public var categoryID: Int

    public init(imageID: Int, fileName: String, detection: Detection, categoryID: Int) {
        (self.imageID, self.fileName, self.detection, self.categoryID) = (imageID, fileName, detection, categoryID)
    }

    /// The category id of `label` for a detector with `classes`: COCO's ids for COCO's 80
    /// classes, else label + 1.
    public static func categoryID(label: Int, classes: [String]) -> Int {
        classes == COCOClasses.names ? COCOClasses.categoryIDs[label] : label + 1
    }

    /// A COCO results list: `image_id`, `file_name`, `category_id`, `bbox` [x, y, w, h], `score`.
    public static func json(_ results: [DetectionResult]) -> String {
        func number(_ v: Double) -> String { v.isFinite ? "\(v)" : "0" }
        var out = "[\n"
        for (i, r) in results.enumerated() {
            let box = r.detection.box.xywh.map(number).joined(separator: ", ")
            out += "  {\"image_id\": \(r.imageID), \"file_name\": \(JSONValue.literal(r.fileName)), \"category_id\": \(r.categoryID), "
                + "\"bbox\": [\(box)], \"score\": \(number(Double(r.detection.score)))}" + (i + 1 < results.count ? ",\n" : "\n")
        }
        return out + "]\n"
    }
}

extension Image {
    /// Draws each detection's box and a "class score" label above it, one colour per class.
    public mutating func drawDetections(_ detections: [Detection], classes: [String], thickness: Int = 2) {
        for d in detections {
            let color = Self.classColor(d.label)
            let b = d.box
            let x = Int(b.x1.rounded()), y = Int(b.y1.rounded())
            drawRectangle(x: x, y: y, width: max(1, Int(b.width.rounded())), height: max(1, Int(b.height.rounded())),
                          color: color, thickness: thickness)
            let name = d.label < classes.count ? classes[d.label] : "class \(d.label)"
            let text = String(format: "%@ %.2f", name, d.score)
            let size = Image.textSize(text)
            drawText(text, x: x, y: max(0, y - size.height - 1), color: .white, background: color)
        }
    }

    /// A fixed, well-spread colour per class (golden-ratio hues).
    static func classColor(_ label: Int) -> Color {
        let hue = (Double(label) * 0.618033988749895).truncatingRemainder(dividingBy: 1)
        let h = hue * 6, f = h - h.rounded(.down)
        let (v, s) = (0.95, 0.75)
        let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
        let (r, g, b): (Double, Double, Double) = switch Int(h) % 6 {
        case 0: (v, t, p)
        case 1: (q, v, p)
        case 2: (p, v, t)
        case 3: (p, q, v)
        case 4: (t, p, v)
        default: (v, p, q)
        }
        return Color(UInt8(r * 255), UInt8(g * 255), UInt8(b * 255))
    }
}

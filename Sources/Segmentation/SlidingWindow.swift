/// Where the official multi-scale test runs the network on one scaled image, and how.
///
/// HRNet-Semantic-Segmentation has two placements (lib/datasets/base_dataset.py and
/// lib/datasets/cityscapes.py `multi_scale_inference`, identical on the HRNet-OCR and
/// pytorch-v1.1 branches):
/// - `.official` (BaseDataset; PASCAL-Context, LIP, ADE20K, COCO-Stuff): an image whose long side
///   fits in the crop's short side is padded to the crop and run once. Otherwise it is padded up
///   to the crop where smaller, and windows of the crop size start every `int(crop * 2 / 3)`
///   pixels, `ceil((size - crop) / stride) + 1` per axis; a window reaching the bottom or right
///   edge is cut there and padded back to the crop size, so every run has the crop's shape.
///   Padding is the normalized value of a black pixel (-mean / std).
/// - `.cityscapes`: at scales <= 1 the whole scaled image is run once, unpadded, whatever its
///   size. Above 1, windows of the crop size start every crop (no overlap) and a window that
///   would pass the edge is moved back inside (start = max(end - crop, 0)), so nothing is padded;
///   an image smaller than the crop gives smaller windows.
/// Overlapping window outputs are summed and divided by the count of windows covering a pixel.
public enum WindowPolicy: String, Sendable, CaseIterable {
    case official, cityscapes

    /// The policy the official code uses for a config's DATASET.DATASET.
    public static func forDataset(_ name: String) -> WindowPolicy { name.lowercased() == "cityscapes" ? .cityscapes : .official }
}

/// One network run on a scaled image: the region `y0..<y1, x0..<x1` of the (possibly padded)
/// image, run at `inputHeight x inputWidth` (the region, padded at the bottom/right if smaller).
public struct Window: Equatable, Sendable {
    public let y0, y1, x0, x1: Int
    public let inputHeight, inputWidth: Int
}

/// The windows for one scaled image of `height x width` and the size the image is padded to.
public struct WindowLayout: Equatable, Sendable {
    /// The size of the canvas the windows cover (the image, padded to the crop where smaller).
    public let canvasHeight, canvasWidth: Int
    public let windows: [Window]

    public init(height: Int, width: Int, crop: (height: Int, width: Int), policy: WindowPolicy, scale: Double) {
        let (ch, cw) = crop
        switch policy {
        case .official:
            if max(height, width) <= min(ch, cw) {
                canvasHeight = height; canvasWidth = width
                windows = [Window(y0: 0, y1: height, x0: 0, x1: width, inputHeight: ch, inputWidth: cw)]
                return
            }
            let nh = max(height, ch), nw = max(width, cw)
            let sh = Int(Double(ch) * 2.0 / 3.0), sw = Int(Double(cw) * 2.0 / 3.0)
            let rows = Int((Double(nh - ch) / Double(sh)).rounded(.up)) + 1
            let cols = Int((Double(nw - cw) / Double(sw)).rounded(.up)) + 1
            var list: [Window] = []
            for r in 0..<rows { for c in 0..<cols {
                let h0 = r * sh, w0 = c * sw
                list.append(Window(y0: h0, y1: min(h0 + ch, nh), x0: w0, x1: min(w0 + cw, nw), inputHeight: ch, inputWidth: cw))
            }}
            canvasHeight = nh; canvasWidth = nw; windows = list
        case .cityscapes:
            canvasHeight = height; canvasWidth = width
            if scale <= 1.0 {
                windows = [Window(y0: 0, y1: height, x0: 0, x1: width, inputHeight: height, inputWidth: width)]
                return
            }
            let rows = Int((Double(height - ch) / Double(ch)).rounded(.up)) + 1
            let cols = Int((Double(width - cw) / Double(cw)).rounded(.up)) + 1
            var list: [Window] = []
            for r in 0..<rows { for c in 0..<cols {
                let h1 = min(r * ch + ch, height), w1 = min(c * cw + cw, width)
                let h0 = max(h1 - ch, 0), w0 = max(w1 - cw, 0)
                list.append(Window(y0: h0, y1: h1, x0: w0, x1: w1, inputHeight: h1 - h0, inputWidth: w1 - w0))
            }}
            windows = list
        }
    }
}

/// The size of an image at one test scale (base_dataset.py multi_scale_aug): the long side
/// becomes `int(baseSize * scale + 0.5)`, the other keeps the aspect ratio, rounded half up.
public func scaledSize(height h: Int, width w: Int, baseSize: Int, scale: Double) -> (height: Int, width: Int) {
    let long = Int(Double(baseSize) * scale + 0.5)
    if h > w { return (long, max(1, Int(Double(w * long) / Double(h) + 0.5))) }
    return (max(1, Int(Double(h * long) / Double(w) + 0.5)), long)
}

extension COCOGroundTruth {
    /// The ground-truth person boxes of an image as the official pose code uses them at test
    /// time with USE_GT_BBOX: annotations of `category` with a positive area and at least one
    /// labelled keypoint, their boxes clipped to the image (x1 = max(0, x), x2 = min(width - 1,
    /// x1 + max(0, w - 1)), likewise y; kept when x2 >= x1 and y2 >= y1), as (x, y, w, h).
    /// - Complexity: O(annotations) per call; index `annotations` by image for many images.
    public func personBoxes(imageID: Int, category: Int = 1) -> [[Double]] {
        guard let image = images[imageID] else { return [] }
        return annotations.filter { $0.imageID == imageID }.compactMap { personBox($0, in: image, category: category) }
    }

    /// Person boxes of every image, by image id, in one pass.
    public func personBoxesByImage(category: Int = 1) -> [Int: [[Double]]] {
        var out: [Int: [[Double]]] = [:]
        for a in annotations {
            guard let image = images[a.imageID], let box = personBox(a, in: image, category: category) else { continue }
            out[a.imageID, default: []].append(box)
        }
        return out
    }

    private func personBox(_ a: COCOObject, in image: COCOImage, category: Int) -> [Double]? {
        guard a.categoryID == category, a.area > 0, (a.keypoints.max() ?? 0) > 0, a.bbox.count == 4 else { return nil }
        let (x, y, w, h) = (a.bbox[0], a.bbox[1], a.bbox[2], a.bbox[3])
        let x1 = max(0, x), y1 = max(0, y)
        // An image entry without a size clips nothing on that side.
        let right = image.width > 0 ? Double(image.width - 1) : .infinity, bottom = image.height > 0 ? Double(image.height - 1) : .infinity
        let x2 = min(right, x1 + max(0, w - 1)), y2 = min(bottom, y1 + max(0, h - 1))
        // The official rule is x2 >= x1 and y2 >= y1; a box clipped to a point (a person one
        // pixel in view) is left out as well: its crop has no scale (the official affine
        // transform is singular there and its prediction means nothing).
        guard x2 >= x1, y2 >= y1, x2 > x1 || y2 > y1 else { return nil }
        return [x1, y1, x2 - x1, y2 - y1]
    }
}

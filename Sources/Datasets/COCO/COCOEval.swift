import Foundation

/// COCO evaluation, step for step as pycocotools' COCOeval (evaluate, accumulate, summarize),
/// so the summary numbers are the ones it prints.
public struct COCOEval {
    public enum IoUType: String, Sendable { case keypoints, bbox }

    public let iouType: IoUType
    public let iouThresholds: [Double]
    public let recallThresholds: [Double]
    public let maxDets: [Int]
    /// (label, [lo, hi]) area ranges.
    public let areaRanges: [(String, [Double])]
    public let sigmas: [Double]

    let gt: COCOGroundTruth
    let dt: [COCOObject]

    public init(groundTruth: COCOGroundTruth, results: [COCOObject], iouType: IoUType,
                sigmas: [Double] = [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89].map { $0 / 10 }) {
        self.gt = groundTruth
        self.dt = results
        self.iouType = iouType
        self.iouThresholds = Self.linspace(0.5, 0.95, 10)
        self.recallThresholds = Self.linspace(0, 1, 101)
        self.sigmas = sigmas
        switch iouType {
        case .keypoints:
            maxDets = [20]
            areaRanges = [("all", [0, 1e10]), ("medium", [1024, 9216]), ("large", [9216, 1e10])]
        case .bbox:
            maxDets = [1, 10, 100]
            areaRanges = [("all", [0, 1e10]), ("small", [0, 1024]), ("medium", [1024, 9216]), ("large", [9216, 1e10])]
        }
    }

    /// numpy.linspace: i * step + start, the last value exactly `stop`.
    static func linspace(_ start: Double, _ stop: Double, _ n: Int) -> [Double] {
        let step = (stop - start) / Double(n - 1)
        return (0..<n).map { $0 == n - 1 ? stop : Double($0) * step + start }
    }

    struct ImageEval {
        var dtScores: [Double]
        /// [threshold][detection] matched ground-truth id (0: unmatched)
        var dtMatches: [[Int]]
        var dtIgnore: [[Bool]]
        var gtIgnore: [Bool]
    }

    /// Runs evaluate + accumulate and returns the summary: 10 numbers for keypoints, 12 for bbox.
    public func run() throws -> [Double] {
        // Group by (image, category), ground truth keeping file order, results keeping file order.
        struct Key: Hashable { let image: Int; let category: Int }
        var gts: [Key: [Int]] = [:], dts: [Key: [Int]] = [:]
        let images = Set(gt.imageIDs), categories = Set(gt.categoryIDs)
        for (i, g) in gt.annotations.enumerated() where images.contains(g.imageID) && categories.contains(g.categoryID) {
            gts[Key(image: g.imageID, category: g.categoryID), default: []].append(i)
        }
        for (i, d) in dt.enumerated() where categories.contains(d.categoryID) {
            dts[Key(image: d.imageID, category: d.categoryID), default: []].append(i)
        }
        if iouType == .keypoints {
            for d in dt where d.keypoints.count != sigmas.count * 3 {
                throw DatasetError.coco("results", "a result for image \(d.imageID) has \(d.keypoints.count / 3) keypoints, the evaluation \(sigmas.count)")
            }
        }
        let maxDet = maxDets.last!
        // gt "ignore": crowd, or (keypoints) no labelled keypoint.
        let gtIgnoreFlag = gt.annotations.map { $0.isCrowd || (iouType == .keypoints && $0.numKeypoints == 0) }

        var evals: [ImageEval?] = []
        evals.reserveCapacity(gt.categoryIDs.count * areaRanges.count * gt.imageIDs.count)
        for c in gt.categoryIDs {
            // IoUs once per (image, category): detections by score (stable), at most maxDet.
            var ious: [Int: (dets: [Int], matrix: [[Double]])] = [:]
            for im in gt.imageIDs {
                let key = Key(image: im, category: c)
                let g = gts[key] ?? [], d = Self.sortedByScore(dts[key] ?? [], dt).prefix(maxDet)
                ious[im] = (Array(d), try computeIoU(Array(d), g))
            }
            for (_, range) in areaRanges {
                for im in gt.imageIDs {
                    let key = Key(image: im, category: c)
                    let g = gts[key] ?? []
                    let (d, matrix) = ious[im]!
                    evals.append(evaluateImage(g, d, matrix, range, maxDet, gtIgnoreFlag))
                }
            }
        }
        let (precision, recall) = accumulate(evals)
        return summarize(precision: precision, recall: recall)
    }

    static func sortedByScore(_ idx: [Int], _ objs: [COCOObject]) -> [Int] {
        // numpy argsort(-score, kind='mergesort'): stable.
        idx.enumerated().sorted { a, b in
            let (sa, sb) = (objs[a.element].score, objs[b.element].score)
            return sa != sb ? sa > sb : a.offset < b.offset
        }.map(\.element)
    }

    /// [detection][ground truth] IoU (bbox) or OKS (keypoints); empty when either side is.
    func computeIoU(_ d: [Int], _ g: [Int]) throws -> [[Double]] {
        if d.isEmpty || g.isEmpty { return [] }
        switch iouType {
        case .bbox:
            return d.map { di in
                let a = dt[di].bbox
                return g.map { gi in
                    let b = gt.annotations[gi].bbox
                    let w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
                    let h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
                    guard w > 0, h > 0 else { return 0 }
                    let inter = w * h
                    let union = gt.annotations[gi].isCrowd ? a[2] * a[3] : a[2] * a[3] + b[2] * b[3] - inter
                    return inter / union
                }
            }
        case .keypoints:
            let vars = sigmas.map { ($0 * 2) * ($0 * 2) }
            let k = sigmas.count
            return d.map { di in
                let dk = dt[di].keypoints
                return g.map { gi in
                    let ga = gt.annotations[gi]
                    let gk = ga.keypoints
                    guard gk.count == k * 3 else { return 0 }
                    let visible = (0..<k).filter { gk[3 * $0 + 2] > 0 }
                    let bb = ga.bbox
                    let (x0, x1, y0, y1) = (bb[0] - bb[2], bb[0] + bb[2] * 2, bb[1] - bb[3], bb[1] + bb[3] * 2)
                    var sum = 0.0
                    let joints = visible.isEmpty ? Array(0..<k) : visible
                    for j in joints {
                        let (xd, yd) = (dk[3 * j], dk[3 * j + 1])
                        let dx: Double, dy: Double
                        if visible.isEmpty {
                            dx = max(0, x0 - xd) + max(0, xd - x1)
                            dy = max(0, y0 - yd) + max(0, yd - y1)
                        } else {
                            dx = xd - gk[3 * j]; dy = yd - gk[3 * j + 1]
                        }
                        let e = (dx * dx + dy * dy) / vars[j] / (ga.area + Double.ulpOfOne) / 2
                        sum += exp(-e)
                    }
                    return sum / Double(joints.count)
                }
            }
        }
    }

    /// Greedy matching at each threshold, as pycocotools' evaluateImg.
    func evaluateImage(_ gIdx: [Int], _ dIdx: [Int], _ ious: [[Double]], _ range: [Double], _ maxDet: Int,
                       _ ignoreFlag: [Bool]) -> ImageEval? {
        if gIdx.isEmpty && dIdx.isEmpty { return nil }
        let ignore = gIdx.map { ignoreFlag[$0] || gt.annotations[$0].area < range[0] || gt.annotations[$0].area > range[1] }
        // Ground truth not ignored first (stable), detections already by score.
        let order = gIdx.indices.sorted { (ignore[$0] ? 1 : 0, $0) < (ignore[$1] ? 1 : 0, $1) }
        let g = order.map { gIdx[$0] }, gIg = order.map { ignore[$0] }
        let d = Array(dIdx.prefix(maxDet))
        let crowd = g.map { gt.annotations[$0].isCrowd }
        let T = iouThresholds.count
        var gtm = [[Int]](repeating: [Int](repeating: 0, count: g.count), count: T)
        var dtm = [[Int]](repeating: [Int](repeating: 0, count: d.count), count: T)
        var dtIg = [[Bool]](repeating: [Bool](repeating: false, count: d.count), count: T)
        if !ious.isEmpty {
            for (t, thr) in iouThresholds.enumerated() {
                for (di, dd) in d.enumerated() {
                    var iou = min(thr, 1 - 1e-10)
                    var m = -1
                    for gi in 0..<g.count {
                        if gtm[t][gi] > 0 && !crowd[gi] { continue }
                        if m > -1 && !gIg[m] && gIg[gi] { break }
                        let v = ious[di][order[gi]]
                        if v < iou { continue }
                        iou = v
                        m = gi
                    }
                    if m == -1 { continue }
                    dtIg[t][di] = gIg[m]
                    dtm[t][di] = gt.annotations[g[m]].id
                    gtm[t][m] = dt[dd].id
                }
            }
        }
        for t in 0..<T {
            for (di, dd) in d.enumerated() where dtm[t][di] == 0 {
                let a = dt[dd].area
                if a < range[0] || a > range[1] { dtIg[t][di] = true }
            }
        }
        return ImageEval(dtScores: d.map { dt[$0].score }, dtMatches: dtm, dtIgnore: dtIg, gtIgnore: gIg)
    }

    /// precision[t][r][k][a][m] and recall[t][k][a][m], -1 where there is no ground truth.
    func accumulate(_ evals: [ImageEval?]) -> (precision: [Double], recall: [Double]) {
        let (T, R, K, A, M) = (iouThresholds.count, recallThresholds.count, gt.categoryIDs.count, areaRanges.count, maxDets.count)
        let I = gt.imageIDs.count
        var precision = [Double](repeating: -1, count: T * R * K * A * M)
        var recall = [Double](repeating: -1, count: T * K * A * M)
        for k in 0..<K { for a in 0..<A { for (m, maxDet) in maxDets.enumerated() {
            let E = (0..<I).compactMap { evals[k * A * I + a * I + $0] }
            if E.isEmpty { continue }
            // All detections of this (category, area), by score (stable over the concatenation).
            var entries: [(score: Double, image: Int, det: Int)] = []
            for (e, ev) in E.enumerated() { for j in 0..<min(maxDet, ev.dtScores.count) { entries.append((ev.dtScores[j], e, j)) } }
            let sortedEntries = entries.enumerated().sorted { x, y in
                x.element.score != y.element.score ? x.element.score > y.element.score : x.offset < y.offset
            }.map(\.element)
            let npig = E.reduce(0) { $0 + $1.gtIgnore.filter { !$0 }.count }
            if npig == 0 { continue }
            for t in 0..<T {
                var tp = 0.0, fp = 0.0
                var rc: [Double] = [], pr: [Double] = []
                rc.reserveCapacity(sortedEntries.count); pr.reserveCapacity(sortedEntries.count)
                for s in sortedEntries {
                    let ev = E[s.image]
                    if ev.dtIgnore[t][s.det] { } else if ev.dtMatches[t][s.det] != 0 { tp += 1 } else { fp += 1 }
                    rc.append(tp / Double(npig))
                    pr.append(tp / (fp + tp + Double.ulpOfOne))
                }
                let nd = rc.count
                recall[((t * K + k) * A + a) * M + m] = nd > 0 ? rc[nd - 1] : 0
                if nd > 1 { for i in stride(from: nd - 1, to: 0, by: -1) where pr[i] > pr[i - 1] { pr[i - 1] = pr[i] } }
                for (r, thr) in recallThresholds.enumerated() {
                    // searchsorted(rc, thr, side='left'); past the end the rest stay 0.
                    var lo = 0, hi = nd
                    while lo < hi { let mid = (lo + hi) / 2; if rc[mid] < thr { lo = mid + 1 } else { hi = mid } }
                    precision[(((t * R + r) * K + k) * A + a) * M + m] = lo < nd ? pr[lo] : 0
                }
            }
        }}}
        return (precision, recall)
    }

    func summarize(precision: [Double], recall: [Double]) -> [Double] {
        let (T, R, K, A, M) = (iouThresholds.count, recallThresholds.count, gt.categoryIDs.count, areaRanges.count, maxDets.count)
        func stat(ap: Bool, iou: Double? = nil, area: String = "all", maxDet: Int) -> Double {
            let ai = areaRanges.firstIndex { $0.0 == area }!
            guard let mi = maxDets.firstIndex(of: maxDet) else { return -1 }
            let ts = iou.map { v in iouThresholds.indices.filter { iouThresholds[$0] == v } } ?? Array(0..<T)
            var values: [Double] = []
            for t in ts { for k in 0..<K {
                if ap { for r in 0..<R { values.append(precision[(((t * R + r) * K + k) * A + ai) * M + mi]) } }
                else { values.append(recall[((t * K + k) * A + ai) * M + mi]) }
            }}
            let valid = values.filter { $0 > -1 }
            return valid.isEmpty ? -1 : valid.reduce(0, +) / Double(valid.count)
        }
        switch iouType {
        case .keypoints:
            return [stat(ap: true, maxDet: 20), stat(ap: true, iou: 0.5, maxDet: 20), stat(ap: true, iou: 0.75, maxDet: 20),
                    stat(ap: true, area: "medium", maxDet: 20), stat(ap: true, area: "large", maxDet: 20),
                    stat(ap: false, maxDet: 20), stat(ap: false, iou: 0.5, maxDet: 20), stat(ap: false, iou: 0.75, maxDet: 20),
                    stat(ap: false, area: "medium", maxDet: 20), stat(ap: false, area: "large", maxDet: 20)]
        case .bbox:
            return [stat(ap: true, maxDet: 100), stat(ap: true, iou: 0.5, maxDet: 100), stat(ap: true, iou: 0.75, maxDet: 100),
                    stat(ap: true, area: "small", maxDet: 100), stat(ap: true, area: "medium", maxDet: 100),
                    stat(ap: true, area: "large", maxDet: 100), stat(ap: false, maxDet: 1), stat(ap: false, maxDet: 10),
                    stat(ap: false, maxDet: 100), stat(ap: false, area: "small", maxDet: 100),
                    stat(ap: false, area: "medium", maxDet: 100), stat(ap: false, area: "large", maxDet: 100)]
        }
    }

    /// The summary lines pycocotools prints.
    public func format(_ stats: [Double]) -> String {
        let rows: [(String, String, String, String)]
        switch iouType {
        case .keypoints:
            rows = [("Average Precision", "(AP)", "0.50:0.95", "all"), ("Average Precision", "(AP)", "0.50", "all"),
                    ("Average Precision", "(AP)", "0.75", "all"), ("Average Precision", "(AP)", "0.50:0.95", "medium"),
                    ("Average Precision", "(AP)", "0.50:0.95", "large"), ("Average Recall", "(AR)", "0.50:0.95", "all"),
                    ("Average Recall", "(AR)", "0.50", "all"), ("Average Recall", "(AR)", "0.75", "all"),
                    ("Average Recall", "(AR)", "0.50:0.95", "medium"), ("Average Recall", "(AR)", "0.50:0.95", "large")]
        case .bbox:
            rows = [("Average Precision", "(AP)", "0.50:0.95", "all"), ("Average Precision", "(AP)", "0.50", "all"),
                    ("Average Precision", "(AP)", "0.75", "all"), ("Average Precision", "(AP)", "0.50:0.95", "small"),
                    ("Average Precision", "(AP)", "0.50:0.95", "medium"), ("Average Precision", "(AP)", "0.50:0.95", "large"),
                    ("Average Recall", "(AR)", "0.50:0.95", "all"), ("Average Recall", "(AR)", "0.50:0.95", "all"),
                    ("Average Recall", "(AR)", "0.50:0.95", "all"), ("Average Recall", "(AR)", "0.50:0.95", "small"),
                    ("Average Recall", "(AR)", "0.50:0.95", "medium"), ("Average Recall", "(AR)", "0.50:0.95", "large")]
        }
        let dets = iouType == .keypoints ? [20] : [100, 100, 100, 100, 100, 100, 1, 10, 100, 100, 100, 100]
        return zip(rows, stats).enumerated().map { i, pair in
            let (r, v) = pair
            let d = iouType == .keypoints ? 20 : dets[i]
            return String(format: " %@ %@ @[ IoU=%@ | area=%@ | maxDets=%@ ] = %.3f",
                          r.0.padding(toLength: 18, withPad: " ", startingAt: 0), r.1,
                          r.2.padding(toLength: 9, withPad: " ", startingAt: 0),
                          String(repeating: " ", count: max(0, 6 - r.3.count)) + r.3,
                          String(repeating: " ", count: max(0, 3 - String(d).count)) + String(d), v)
        }.joined(separator: "\n")
    }
}

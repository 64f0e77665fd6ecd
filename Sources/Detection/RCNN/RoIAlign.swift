import DNN
import Dispatch
import Foundation

/// mmcv's `RoIAlign` (avg mode) as its CPU kernel (`ops/csrc/pytorch/cpu/roi_align.cpp`, the
/// Caffe2 / detectron2 algorithm) computes it, and mmdet's mapping of RoIs to pyramid levels.
///
/// Per RoI, in float32 and in the kernel's order of operations:
/// - `start = x1 * scale - offset`, `end = x2 * scale - offset`, `size = end - start` (offset 0.5
///   when `aligned`, mmdet's default; with `aligned == false` the offset is 0 and the size is at
///   least 1, the pre-detectron2 rule);
/// - `bin = size / out`; `grid = samplingRatio` if it is positive, else `ceil(size / out)` samples
///   per bin and axis (so an RoI under one feature pixel per bin gets one sample, and an RoI of
///   zero width or height gets none and pools to 0);
/// - sample `y = start + p * bin + (i + 0.5) * bin / grid`; a sample with `y < -1` or `y > H` (or
///   the same in x) contributes 0; otherwise y is clamped to 0 from below, `y_low = floor(y)`, and
///   at `y_low >= H - 1` both taps are row H - 1 (weight all on it); bilinear weights
///   `hy * hx, hy * lx, ly * hx, ly * lx`, taps summed in that order;
/// - output = (sum over the grid, rows outer, columns inner) / max(gridH * gridW, 1).
/// torchvision's `roi_align` follows the same rules (the fixture generator checks it against mmcv's
/// compiled kernel bit for bit); this port reproduces torchvision's outputs exactly on the fixtures.
///
/// The sampling taps and weights are computed once per RoI (per axis, then per bin) and shared by
/// all channels, as mmcv precomputes them; out-of-range samples are skipped instead of added as
/// zero-weight taps (the same sum for finite features). Loops run bin outer, channel inner (each
/// bin's tap table stays small; measured faster here than mmcv's channel-outer order: 0.22 s vs
/// 0.37 s for 1000 RoIs of 4-112 pixels, 256 channels, a 200 x 336 map, one thread). RoIs are
/// split over `threads` workers (DispatchQueue.concurrentPerform); the result does not depend on it.
///
/// Departures, all on inputs where mmcv has no useful answer:
/// - An RoI with a NaN or infinite coordinate (after scaling) pools to zeros.
/// - An RoI with x2 < x1 or y2 < y1 pools to zeros when `aligned` (mmcv raises an error;
///   torchvision returns zeros).
/// - Samples per bin are capped at `maxSamplesPerBin` per axis. mmcv has no cap (a 1e6-pixel box
///   asks for billions of samples). The cap changes nothing for an RoI up to 64 x 7 = 448 feature
///   pixels per side: at stride 4 that is 1792 image pixels, more than any proposal clipped to
///   mmdet's 1333 x 800 test scale (<= 334 feature pixels, 48 samples). A larger RoI is averaged
///   over a 64 x 64 grid per bin, still spread uniformly over the bin.
/// - A feature map with no rows or columns gives zeros (mmcv would read out of bounds).
/// Preconditions (programming errors, not data): rank-4 features, `outputSize > 0`, batch indices
/// inside the batch, `samplingRatio <= maxSamplesPerBin`.
enum RoIAlign {
    /// The largest number of samples per bin along one axis (see the type's notes).
    static let maxSamplesPerBin = 64

    /// RoI features of shape (R, C, outputSize, outputSize) from an NCHW feature map (or NHWC,
    /// shape (N, H, W, C), with `channelsLast`: each tap then reads a pixel's channels in a row,
    /// ~10x faster here for 256 channels, with the same sums in the same order per channel);
    /// RoI boxes are in image pixels, `spatialScale` = 1 / the map's stride.
    static func pool(_ features: Tensor, rois: [(batch: Int, box: BoundingBox)], spatialScale: Float,
                     outputSize: Int = 7, samplingRatio: Int = 0, aligned: Bool = true, threads: Int = 1,
                     channelsLast: Bool = false) -> Tensor {
        precondition(features.rank == 4, "RoIAlign needs an NCHW feature map, got shape \(features.shape)")
        precondition(outputSize > 0, "RoIAlign output size must be positive")
        precondition(samplingRatio <= maxSamplesPerBin, "sampling ratio \(samplingRatio) above \(maxSamplesPerBin)")
        let s = features.shape
        let (n, c, h, w) = channelsLast ? (s[0], s[3], s[1], s[2]) : (s[0], s[1], s[2], s[3])
        for roi in rois {
            precondition(roi.batch >= 0 && roi.batch < n, "RoI batch index \(roi.batch) outside 0..<\(n)")
        }
        let perRoI = c * outputSize * outputSize
        var output = [Float](repeating: 0, count: rois.count * perRoI)
        guard perRoI > 0, h > 0, w > 0, !rois.isEmpty else {
            return Tensor(shape: [rois.count, c, outputSize, outputSize], scalars: output)
        }
        let geometry = Geometry(channels: c, height: h, width: w, outputSize: outputSize, spatialScale: spatialScale,
                                samplingRatio: samplingRatio, aligned: aligned, channelsLast: channelsLast)
        features.scalars.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                let buffers = Buffers(source: src.baseAddress!, destination: dst.baseAddress!)
                let count = rois.count
                let chunks = max(1, min(threads, count))
                let work: @Sendable (Int) -> Void = { k in
                    var taps: [Tap] = []
                    for r in (count * k / chunks)..<(count * (k + 1) / chunks) {
                        let roi = rois[r]
                        poolOne(roi.box, plane: buffers.source + roi.batch * c * h * w,
                                into: buffers.destination + r * perRoI, geometry, taps: &taps)
                    }
                }
                if chunks == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: work) }
            }
        }
        return Tensor(shape: [rois.count, c, outputSize, outputSize], scalars: output)
    }

    /// mmdet's `SingleRoIExtractor.map_roi_levels`: `scale = sqrt(w * h)`,
    /// `level = floor(log2(scale / finestScale + 1e-6))` clamped to `0...levels - 1`, in float32
    /// as torch computes it (the 1e-6 is rounded to float32 first). A box whose scale is NaN
    /// (a NaN coordinate, or negative w * h) goes to level 0; mmdet's `.long()` of NaN matches no
    /// level and leaves its features zero, which is what `pool` gives such a box on any level
    /// when the coordinate is NaN.
    static func levels(_ rois: [BoundingBox], finestScale: Float = 56, levels: Int = 4) -> [Int] {
        precondition(levels > 0, "need at least one level")
        let epsilon = Float(1e-6 as Double)
        return rois.map { box in
            let scale = ((box.x2 - box.x1) * (box.y2 - box.y1)).squareRoot()
            let level = log2(scale / finestScale + epsilon).rounded(.down)
            if level.isNaN { return 0 }
            return Int(min(max(level, 0), Float(levels - 1)))
        }
    }

    // MARK: - Kernel

    struct Geometry {
        var channels, height, width, outputSize: Int
        var spatialScale: Float
        var samplingRatio: Int
        var aligned: Bool
        var channelsLast = false
    }

    /// One sample's four taps (offsets in a channel plane) and bilinear weights.
    struct Tap {
        var p1, p2, p3, p4: Int
        var w1, w2, w3, w4: Float
    }

    /// One axis of one sample: the two neighbouring rows (or columns) and the interpolation
    /// fraction `l` with `h = 1 - l`; `valid == false` outside [-1, size].
    struct AxisTap {
        var low = 0, high = 0
        var l: Float = 0, h: Float = 0
        var valid = false
    }

    private struct Buffers: @unchecked Sendable {
        let source: UnsafePointer<Float>
        let destination: UnsafeMutablePointer<Float>
    }

    /// Samples per bin along one axis: `ceil(size / out)` (an empty or negative extent gives 0),
    /// at most `maxSamplesPerBin`.
    static func adaptiveGrid(_ size: Float, _ outputSize: Int) -> Int {
        let g = (size / Float(outputSize)).rounded(.up)
        guard g > 0 else { return 0 }  // also NaN
        return g >= Float(maxSamplesPerBin) ? maxSamplesPerBin : Int(g)
    }

    /// The kernel's clamping of one coordinate on an axis of `size` pixels.
    static func axisTap(_ coordinate: Float, size: Int) -> AxisTap {
        guard coordinate >= -1, coordinate <= Float(size) else { return AxisTap() }  // NaN too
        var y = coordinate
        if y <= 0 { y = 0 }
        var low = Int(y), high: Int
        if low >= size - 1 {
            low = size - 1
            high = low
            y = Float(low)
        } else {
            high = low + 1
        }
        let l = y - Float(low)
        return AxisTap(low: low, high: high, l: l, h: 1 - l, valid: true)
    }

    /// Pools one RoI into `out` (C x out x out, zero on entry). `plane` is its image's first channel.
    private static func poolOne(_ box: BoundingBox, plane: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                                _ g: Geometry, taps: inout [Tap]) {
        let offset: Float = g.aligned ? 0.5 : 0
        let startW = box.x1 * g.spatialScale - offset
        let startH = box.y1 * g.spatialScale - offset
        let endW = box.x2 * g.spatialScale - offset
        let endH = box.y2 * g.spatialScale - offset
        var roiW = endW - startW, roiH = endH - startH
        guard startW.isFinite, startH.isFinite, roiW.isFinite, roiH.isFinite else { return }
        if !g.aligned {
            roiW = max(roiW, 1)
            roiH = max(roiH, 1)
        }
        let pooled = g.outputSize
        let binH = roiH / Float(pooled), binW = roiW / Float(pooled)
        let gridH = g.samplingRatio > 0 ? g.samplingRatio : adaptiveGrid(roiH, pooled)
        let gridW = g.samplingRatio > 0 ? g.samplingRatio : adaptiveGrid(roiW, pooled)
        guard gridH > 0, gridW > 0 else { return }  // an empty grid pools to 0 / 1
        let count = Float(gridH * gridW)

        // Per axis: the taps of sample i of bin p at index p * grid + i.
        var rows = [AxisTap](), columns = [AxisTap]()
        rows.reserveCapacity(pooled * gridH)
        columns.reserveCapacity(pooled * gridW)
        for p in 0..<pooled {
            for i in 0..<gridH {
                let y = startH + Float(p) * binH + (Float(i) + 0.5) * binH / Float(gridH)
                rows.append(axisTap(y, size: g.height))
            }
        }
        for p in 0..<pooled {
            for i in 0..<gridW {
                let x = startW + Float(p) * binW + (Float(i) + 0.5) * binW / Float(gridW)
                columns.append(axisTap(x, size: g.width))
            }
        }

        let planeSize = g.height * g.width, binCount = pooled * pooled
        for ph in 0..<pooled {
            for pw in 0..<pooled {
                taps.removeAll(keepingCapacity: true)
                for iy in 0..<gridH {
                    let r = rows[ph * gridH + iy]
                    guard r.valid else { continue }
                    for ix in 0..<gridW {
                        let q = columns[pw * gridW + ix]
                        guard q.valid else { continue }
                        taps.append(Tap(p1: r.low * g.width + q.low, p2: r.low * g.width + q.high,
                                        p3: r.high * g.width + q.low, p4: r.high * g.width + q.high,
                                        w1: r.h * q.h, w2: r.h * q.l, w3: r.l * q.h, w4: r.l * q.l))
                    }
                }
                if taps.isEmpty { continue }
                let bin = ph * pooled + pw
                if g.channelsLast {
                    // One pixel's channels are contiguous: accumulate all channels per tap.
                    let c = g.channels
                    let sums = UnsafeMutablePointer<Float>.allocate(capacity: c)
                    defer { sums.deallocate() }
                    sums.initialize(repeating: 0, count: c)
                    for t in taps {
                        let (a, b, d, e) = (plane + t.p1 * c, plane + t.p2 * c, plane + t.p3 * c, plane + t.p4 * c)
                        for ch in 0..<c { sums[ch] += t.w1 * a[ch] + t.w2 * b[ch] + t.w3 * d[ch] + t.w4 * e[ch] }
                    }
                    for ch in 0..<c { out[ch * binCount + bin] = sums[ch] / count }
                    continue
                }
                taps.withUnsafeBufferPointer { taps in
                    for ch in 0..<g.channels {
                        let p = plane + ch * planeSize
                        var sum: Float = 0
                        for t in taps {
                            let value = t.w1 * p[t.p1] + t.w2 * p[t.p2] + t.w3 * p[t.p3] + t.w4 * p[t.p4]
                            sum += value
                        }
                        out[ch * binCount + bin] = sum / count
                    }
                }
            }
        }
    }
}

import Foundation

/// The ground truth of the official MPII evaluation: `annot/gt_valid.mat` (lib/dataset/mpii.py,
/// `evaluate`), a MAT-file with
/// - `dataset_joints`: a 1x16 cell of joint names (rank rkne rhip lhip lkne lank pelv thor
///   neck head rwri relb rsho lsho lelb lwri),
/// - `jnt_missing`: 16 x N, 1 where a joint is not annotated,
/// - `pos_gt_src`: 16 x 2 x N joint positions (x, y) in MATLAB's 1-based pixels,
/// - `headboxes_src`: 2 x 2 x N head boxes, (top-left, bottom-right) x (x, y),
/// one column per person of annot/valid.json, in its order.
public struct MPIIGroundTruth: Sendable {
    /// `dataset_joints` as the official file names them, in this order.
    public static let jointNames = ["rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor",
                                    "neck", "head", "rwri", "relb", "rsho", "lsho", "lelb", "lwri"]

    /// Per person, the 16 joints (x, y), 1-based as in the file.
    public var positions: [[Point]]
    /// Per person and joint: 1 - `jnt_missing`.
    public var visible: [[Bool]]
    /// Per person (x1, y1, x2, y2).
    public var headBoxes: [[Double]]
    /// For messages: the file's path.
    public var source: String

    public var count: Int { positions.count }

    public init(positions: [[Point]], visible: [[Bool]], headBoxes: [[Double]], source: String) {
        (self.positions, self.visible, self.headBoxes, self.source) = (positions, visible, headBoxes, source)
    }

    /// Reads gt_valid.mat (or any file with those four variables).
    public static func load(_ url: URL) throws -> MPIIGroundTruth {
        try MPIIGroundTruth(try MATFile.load(url))
    }

    /// Checks names, shapes and that jnt_missing is 0/1. NaN positions or head boxes are kept:
    /// as in numpy, their joints never count as correct.
    public init(_ mat: MATFile) throws {
        func fail(_ message: String) -> DatasetError { DatasetError.mat(mat.source, message) }
        let joints = Self.jointNames.count
        // dataset_joints: a cell of names (MATLAB and scipy both write the official file's as a
        // 1x16 cell of char arrays); a char matrix of one name per row is read too.
        let namesVariable = try mat.variable("dataset_joints")
        let names: [String]
        if let cells = namesVariable.cells {
            names = try cells.map { cell in
                guard let s = cell.string else { throw fail("dataset_joints must hold joint names (char arrays), found \(cell.summary)") }
                return s.trimmingCharacters(in: .whitespaces)
            }
        } else if let rows = namesVariable.rows {
            names = rows.map { $0.trimmingCharacters(in: .whitespaces) }
        } else {
            throw fail("dataset_joints must be a cell array of joint names, found \(namesVariable.summary)")
        }
        // The official code finds the summary joints by name but masks pelvis and thorax by
        // position (6, 7), and predictions come in annot/*.json's joint order: so the order must be MPII's.
        guard names == Self.jointNames else {
            throw fail("dataset_joints is [\(names.joined(separator: " "))]; the official evaluation needs MPII's order [\(Self.jointNames.joined(separator: " "))]")
        }
        func numeric(_ name: String, rank: Int) throws -> (values: [Double], dims: [Int]) {
            let v = try mat.variable(name)
            guard v.arrayClass.isNumeric, let real = v.real, !v.isComplex else {
                throw fail("\(name) must be a real numeric array, found \(v.summary)")
            }
            guard let dims = v.dimensions(rank: rank) else { throw fail("\(name) must have \(rank) dimensions, found \(v.summary)") }
            return (real, dims)
        }
        let missing = try numeric("jnt_missing", rank: 2)
        let people = missing.dims[1]
        guard missing.dims[0] == joints else { throw fail("jnt_missing must be \(joints) x N (joints x people), found \(missing.dims.map(String.init).joined(separator: "x"))") }
        let pos = try numeric("pos_gt_src", rank: 3)
        guard pos.dims == [joints, 2, people] else {
            throw fail("pos_gt_src must be \(joints)x2x\(people) (joints x (x, y) x people, as jnt_missing), found \(pos.dims.map(String.init).joined(separator: "x"))")
        }
        let boxes = try numeric("headboxes_src", rank: 3)
        guard boxes.dims == [2, 2, people] else {
            throw fail("headboxes_src must be 2x2x\(people) (corners x (x, y) x people), found \(boxes.dims.map(String.init).joined(separator: "x"))")
        }
        guard people > 0 else { throw fail("holds no people") }
        guard missing.values.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw fail("jnt_missing must hold 0 or 1") }
        // Column-major: (j, c, p) of a J x 2 x N array is at j + J * (c + 2 * p).
        positions = (0..<people).map { p in
            (0..<joints).map { j -> Point in Point(pos.values[j + joints * (2 * p)], pos.values[j + joints * (1 + 2 * p)]) }
        }
        visible = (0..<people).map { p in (0..<joints).map { j in missing.values[j + joints * p] == 0 } }
        headBoxes = (0..<people).map { p in
            let b = { (corner: Int, axis: Int) in boxes.values[corner + 2 * (axis + 2 * p)] }
            return [b(0, 0), b(0, 1), b(1, 0), b(1, 1)]
        }
        source = mat.source
    }

    /// PCKh of `predictions` (per person of annot/valid.json, in its order, the 16 joints in
    /// 0-based image pixels as the network's decoding gives them): converted to 1-based (+1),
    /// as the official `evaluate` does, then compared with this ground truth.
    public func evaluate(predictions: [[Point]], threshold: Double = 0.5) throws -> PCKh {
        guard predictions.count == count else {
            throw DatasetError.pckh("\(predictions.count) predicted people, but \(source) has \(count) (it must match annot/*.json person for person)")
        }
        let oneBased = predictions.map { $0.map { Point(x: $0.x + 1, y: $0.y + 1) } }
        return try PCKh.evaluate(predictions: oneBased, groundTruth: positions, visible: visible, headBoxes: headBoxes, threshold: threshold)
    }
}

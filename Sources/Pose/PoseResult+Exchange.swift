import Collectives
import Foundation

/// People found by several processes, gathered on the first one in the order one process
/// would have found them (a sharded evaluation scores exactly as an unsharded one).
enum PoseResultExchange {
    /// Each result with the index of its image in the evaluation order, as doubles.
    static func encode(_ results: [(index: Int, result: PoseResult)]) -> [Double] {
        var values: [Double] = []
        for (index, r) in results {
            let p = r.person
            values += [Double(index), Double(r.imageID), p.score, p.area, Double(p.keypoints.count)]
            values += p.keypoints.flatMap { [$0.x, $0.y, $0.score] }
            if let c = p.crop { values += [1, c.center.x, c.center.y, c.scale.w, c.scale.h, c.rotation] } else { values += [0] }
            if let b = p.box { values += [1, b.x, b.y, b.width, b.height, b.score] } else { values += [0] }
        }
        return values
    }

    /// The inverse of `encode` (a payload that does not parse is an error, not a crash).
    static func decode(_ values: [Double], fileName: (Int) -> String) throws -> [(index: Int, result: PoseResult)] {
        var out: [(index: Int, result: PoseResult)] = []
        var i = 0
        func take(_ n: Int) throws -> ArraySlice<Double> {
            guard n >= 0, i + n <= values.count else { throw PoseError("gathered pose results end inside a person") }
            defer { i += n }
            return values[i..<i + n]
        }
        func integer(_ v: Double) throws -> Int {
            guard v.isFinite, v >= 0, v < 1e15 else { throw PoseError("gathered pose results hold a bad count or index \(v)") }
            return Int(v)
        }
        while i < values.count {
            let head = Array(try take(5))
            let (index, id, joints) = (try integer(head[0]), try integer(head[1]), try integer(head[4]))
            guard joints <= 10_000 else { throw PoseError("gathered pose results hold \(joints) keypoints per person") }
            let k = Array(try take(3 * joints))
            let keypoints = (0..<joints).map { Keypoint(x: k[3 * $0], y: k[3 * $0 + 1], score: k[3 * $0 + 2]) }
            var person = Person(keypoints: keypoints, score: head[2], area: head[3])
            if try take(1).first == 1 {
                let c = Array(try take(5))
                person.crop = PersonCrop(center: Point(c[0], c[1]), scale: (c[2], c[3]), rotation: c[4])
            }
            if try take(1).first == 1 {
                let b = Array(try take(5))
                person.box = PersonBox(x: b[0], y: b[1], width: b[2], height: b[3], score: b[4])
            }
            out.append((index, PoseResult(imageID: id, fileName: fileName(id), person: person)))
        }
        return out
    }

    /// Every process's results on the first one, ordered by image index (each process's own
    /// order kept within an image); nil on the others.
    static func gather(_ local: [(index: Int, result: PoseResult)], over communicator: any Communicator,
                       fileName: (Int) -> String) throws -> [PoseResult]? {
        guard let parts = try communicator.gather(encode(local), root: 0) else { return nil }
        let all = try parts.flatMap { try decode($0, fileName: fileName) }
        // Stable: images are disjoint between processes, so only one process's order meets another's here.
        return all.enumerated().sorted { ($0.element.index, $0.offset) < ($1.element.index, $1.offset) }.map(\.element.result)
    }
}

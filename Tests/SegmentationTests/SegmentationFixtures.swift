import DNN
import Foundation
import HRNet
import Imaging
import Segmentation
import TestSupport
import XCTest

/// The fixtures of Tests/Fixtures/segmentation/make_segmentation_fixtures.py and the tiny
/// segmentation models of Tests/Fixtures/hrnet.
enum SegFixtures {
    static func url(_ name: String) -> URL { Fixtures.url("segmentation/" + name) }

    static func model(_ name: String) throws -> (HRNetModel, [String: Tensor]) {
        let model = HRNetModel(config: try HRNetConfig.load(Fixtures.url("hrnet/\(name).yaml")))
        let (parameters, report) = try model.loadWeights(Fixtures.url("hrnet/\(name).safetensors"))
        XCTAssertTrue(report.missing.isEmpty)
        return (model, parameters)
    }

    struct Case {
        let name, model: String
        let scales: [Double]
        let flip: Bool
        let crop: (Int, Int)
        let baseSize: Int
        let policy: WindowPolicy
    }

    static func cases() throws -> [Case] {
        let list = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url("cases.json"))) as? [[String: Any]])
        return try list.map { c in
            let crop = try XCTUnwrap(c["crop"] as? [Int])
            return Case(name: try XCTUnwrap(c["name"] as? String), model: try XCTUnwrap(c["model"] as? String),
                        scales: try XCTUnwrap(c["scales"] as? [Double]), flip: try XCTUnwrap(c["flip"] as? Bool),
                        crop: (crop[0], crop[1]), baseSize: try XCTUnwrap(c["base_size"] as? Int),
                        policy: try XCTUnwrap(WindowPolicy(rawValue: try XCTUnwrap(c["policy"] as? String))))
        }
    }
}

/// Largest of |a - b| / max(1, |b|).
func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    var worst: Float = 0
    for i in 0..<a.count { worst = max(worst, abs(a[i] - b[i]) / max(1, abs(b[i]))) }
    return worst
}

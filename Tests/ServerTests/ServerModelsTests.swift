import Classification
import DNN
import Foundation
import HRNet
import Imaging
import Segmentation
@testable import Server
import TestSupport
import XCTest

/// A models file serving segmentation and classification (the tiny fixtures): the answers equal
/// the library's; a bad models file is refused naming the entry and key.
final class ServerModelsTests: XCTestCase {
    func entries() throws -> [ModelEntry] {
        let yaml = """
        models:
          - name: seg
            task: segment
            config: \(Fixtures.url("hrnet/tiny_seg.yaml").path)
            weights: \(Fixtures.url("hrnet/tiny_seg.safetensors").path)
            threads: 1
          - name: shapes
            task: classify
            config: \(Fixtures.url("classify/shapes_pretrain.yaml").path)
            weights: \(Fixtures.url("classify/shapes_pretrained.safetensors").path)
        """
        return try ModelEntry.parse(yaml, source: "models.yaml", base: URL(fileURLWithPath: "/"))
    }

    func testSegmentAndClassifyEqualTheLibrary() async throws {
        let s = try await RunningServer(entries: try entries())
        defer { Task { await s.stop() } }
        let photo = try Data(contentsOf: Fixtures.url("segmentation/photo.png"))
        let image = try Image.decode(photo)

        let model = HRNetModel(config: try HRNetConfig.load(Fixtures.url("hrnet/tiny_seg.yaml")))
        let (weights, _) = try model.loadWeights(Fixtures.url("hrnet/tiny_seg.safetensors"))
        let expected = try Segmenter(model: model, parameters: weights, threads: 2).segment(image).labels

        let png = try await s.call("/v1/segment", method: "POST", body: photo, headers: ["Accept": "image/png"])
        XCTAssertEqual(png.status, 200, png.error)
        XCTAssertEqual(png.headers["content-type"], "image/png")
        let labels = try GrayImage.decodePNG(png.body)
        XCTAssertEqual(labels.pixels, expected.labels)
        let json = try await s.call("/v1/segment", method: "POST", body: photo)
        let classes = try XCTUnwrap((json.json as? [String: Any])?["classes"] as? [[String: Any]])
        XCTAssertEqual(classes.compactMap { $0["pixels"] as? Int }.reduce(0, +), 48 * 80)

        let cls = HRNetModel(config: try HRNetConfig.load(Fixtures.url("classify/shapes_pretrain.yaml")))
        let (clsWeights, _) = try cls.loadWeights(Fixtures.url("classify/shapes_pretrained.safetensors"))
        let classifier = try Classifier(config: cls.config, parameters: clsWeights, threads: 2)
        let pre = ClassificationPreprocessing.validation(width: cls.config.imageSize.width, height: cls.config.imageSize.height)
        let top = try classifier.classify(pre.batch([image]), top: 3)[0]
        let reply = try await s.call("/v1/classify?top=3", method: "POST", body: photo)
        XCTAssertEqual(reply.status, 200, reply.error)
        let got = try XCTUnwrap((reply.json as? [String: Any])?["top"] as? [[String: Any]])
        XCTAssertEqual(got.compactMap { $0["index"] as? Int }, top.map(\.index))
        for (g, e) in zip(got, top) {
            XCTAssertEqual(try XCTUnwrap(g["probability"] as? Double), Double(e.probability), accuracy: 1e-7)
        }
        let pose = try await s.call("/v1/pose", method: "POST", body: photo)
        XCTAssertEqual(pose.status, 404)
        XCTAssertTrue(pose.error.contains("no pose model"), pose.error)
    }

    func testBadModelFiles() {
        func error(_ yaml: String) -> String {
            do { _ = try ModelEntry.parse(yaml, source: "m.yaml", base: URL(fileURLWithPath: "/")); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(error("models: [").contains("m.yaml: not valid YAML"))
        XCTAssertTrue(error("model: []").contains("`models` list"))
        XCTAssertTrue(error("models: [{name: a, task: dance}]").contains("models[0] (a).task must be one of"))
        XCTAssertTrue(error("models: [{task: pose}]").contains("models[0].name is missing"))
        XCTAssertTrue(error("models: [{name: a, task: pose, weight: x}]").contains("unknown key `weight`"))
        XCTAssertTrue(error("models: [{name: a, task: pose}, {name: a, task: pose}]").contains("two models are named a"))
        XCTAssertTrue(error("models: [{name: a, task: pose, detector: b}]").contains("detector b is not a detect model"))
        XCTAssertTrue(error("models: [{name: a, task: pose, precision: fp8}]").contains("precision must be fp32, bf16 or int8"))
        XCTAssertTrue(error("models: [{name: 'a b', task: pose}]").contains("may hold only"))
        XCTAssertTrue(error("models: [{name: a, task: pose, threads: 0}]").contains("threads must be 1...1024"))
        XCTAssertEqual(error("models: [{name: a, task: pose, preset: pose_default, detector: p}, {name: p, task: detect}]"), "")
    }
}

import DNN
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HRNet
import Imaging
import Pose
@testable import Server
import TestSupport
import XCTest

/// `hrnet serve`'s server on an ephemeral port, with the embedded default pose model and person
/// detector: answers equal the library's, concurrent requests are batched without changing a
/// number, bad requests get 4xx JSON errors and leave the server answering.
final class ServerTests: XCTestCase {
    let photo = Fixtures.url("detection/person_scene.jpg")
    /// The two people of person_scene.json.
    let boxes = [PersonBox(x: 102.88, y: 39.37, width: 44.58, height: 94.38), PersonBox(x: 172.82, y: 45.14, width: 68.36, height: 166.34)]

    func boxQuery(_ b: [PersonBox]) -> String { b.map { "box=\($0.x),\($0.y),\($0.width),\($0.height)" }.joined(separator: "&") }

    /// What the library gives: the default model with the server's plans (direct convolutions).
    func libraryPeople(_ image: Image, _ boxes: [PersonBox]) throws -> [Person] {
        let (model, parameters) = try DefaultModel.load()
        var options = PoseEstimator.Options(config: model.config)
        options.plan.winograd = false
        options.threads = 2
        return try PoseEstimator(config: model.config, parameters: parameters, options: options).estimate(image: image, boxes: boxes)
    }

    static func people(_ reply: RunningServer.Reply) -> [[String: Any]] {
        ((reply.json as? [String: Any])?["people"] as? [[String: Any]]) ?? []
    }

    func testPoseEqualsTheLibraryAndUsesTheDetector() async throws {
        let s = try await RunningServer()
        defer { Task { await s.stop() } }
        let body = try Data(contentsOf: photo)
        let reply = try await s.call("/v1/pose?" + boxQuery(boxes), method: "POST", body: body)
        XCTAssertEqual(reply.status, 200, String(decoding: reply.body, as: UTF8.self))
        XCTAssertEqual(reply.headers["content-type"], "application/json")
        let json = try XCTUnwrap(reply.json as? [String: Any])
        XCTAssertEqual((json["keypoint_names"] as? [String])?.count, 17)
        XCTAssertEqual((json["skeleton"] as? [[Int]])?.count, KeypointSet.coco.skeleton.count)
        let expected = try libraryPeople(try Image.decode(body), boxes)
        let got = Self.people(reply)
        XCTAssertEqual(got.count, expected.count)
        for (g, e) in zip(got, expected) {
            let keypoints = try XCTUnwrap(g["keypoints"] as? [[Double]])
            for (k, joint) in zip(keypoints, e.keypoints) {
                // The same numbers through JSON text: Linux Foundation's parser is off by up to an
                // ulp, so 1e-12 relative; any real difference (another batch, another kernel) is >1e-8.
                for (a, b) in zip(k, [joint.x, joint.y, joint.score]) { XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(b))) }
            }
            XCTAssertEqual(try XCTUnwrap(g["score"] as? Double), e.score, accuracy: 1e-12)
        }

        // No box: the embedded person detector finds both people (IoU >= 0.5 with the annotation).
        let detectedReply = try await s.call("/v1/pose", method: "POST", body: body)
        let detected = Self.people(detectedReply)
        for truth in boxes {
            let best = detected.compactMap { $0["box"] as? [Double] }.map { b in
                Self.iou(b, [truth.x, truth.y, truth.width, truth.height])
            }.max() ?? 0
            XCTAssertGreaterThan(best, 0.5, "person at \(truth) not found: \(detected.map { $0["box"] ?? [] })")
        }
    }

    static func iou(_ a: [Double], _ b: [Double]) -> Double {
        let w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])), h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
        return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)
    }

    func testConcurrentRequestsAreBatchedAndEqualTheirSoloAnswers() async throws {
        let s = try await RunningServer { $0.maxWaitMilliseconds = 50 }
        defer { Task { await s.stop() } }
        let body = try Data(contentsOf: photo)
        // 8 different requests (one or two boxes, shifted), each first alone...
        let variants: [[PersonBox]] = (0..<8).map { k in
            let shift = Double(k) * 1.5
            let moved = boxes.map { PersonBox(x: $0.x + shift, y: $0.y, width: $0.width, height: $0.height - shift) }
            return k % 3 == 0 ? [moved[0]] : moved
        }
        var solo: [Data] = []
        for v in variants {
            let r = try await s.call("/v1/pose?" + boxQuery(v), method: "POST", body: body)
            XCTAssertEqual(r.status, 200)
            solo.append(r.body)
        }
        // ...then 64 at once (each variant 8 times): every answer equals its solo one.
        let answers = try await withThrowingTaskGroup(of: (Int, RunningServer.Reply).self) { group in
            for i in 0..<64 {
                let q = boxQuery(variants[i % 8])
                group.addTask { (i, try await s.call("/v1/pose?" + q, method: "POST", body: body)) }
            }
            var all: [(Int, RunningServer.Reply)] = []
            for try await a in group { all.append(a) }
            return all
        }
        XCTAssertEqual(answers.count, 64)
        for (i, r) in answers {
            XCTAssertEqual(r.status, 200, r.error)
            XCTAssertEqual(r.body, solo[i % 8], "request \(i): its answer differs from the same request alone")
        }
        // Batching happened: more crops than network runs.
        let metricsReply = try await s.call("/metrics")
        let metrics = String(decoding: metricsReply.body, as: UTF8.self)
        func value(_ name: String) -> Double? {
            metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last!) }
        }
        let crops = try XCTUnwrap(value("hrnet_batch_size_crops_sum")), runs = try XCTUnwrap(value("hrnet_batch_size_crops_count"))
        XCTAssertGreaterThan(crops / runs, 1.5, "crops per run: \(crops) / \(runs)")
        XCTAssertTrue(metrics.contains("hrnet_requests_total{route=\"/v1/pose\", status=\"200\"}") ||
                      metrics.contains("hrnet_requests_total{route=\"/v1/pose\",status=\"200\"}"), metrics)
    }

    func testBadRequestsGetJSONErrorsAndTheServerGoesOn() async throws {
        let s = try await RunningServer { $0.maxBodyBytes = 1 << 20 }
        defer { Task { await s.stop() } }
        let jpeg = try Data(contentsOf: photo)
        let cases: [(String, String, Data?, Int, String)] = [
            ("empty body", "/v1/pose", Data(), 400, "empty"),
            ("text body", "/v1/pose", Data("hello".utf8), 400, "not a JPEG or PNG"),
            ("truncated JPEG", "/v1/pose", jpeg.prefix(jpeg.count / 3), 400, "the body"),
            ("60000 x 60000 PNG header", "/v1/pose", try Data(contentsOf: Fixtures.url("imaging/huge.png")), 413, "60000 x 60000"),
            ("unknown model", "/v1/pose?model=nope", jpeg, 404, "no model named nope"),
            ("model of another task", "/v1/pose?model=person", jpeg, 400, "detect model"),
            ("bad box", "/v1/pose?box=1,2,x,4", jpeg, 400, "four numbers"),
            ("box outside", "/v1/pose?box=1000,2,30,40", jpeg, 400, "box 0"),
            ("bad flip", "/v1/pose?flip=maybe", jpeg, 400, "true or false"),
            ("no segment model", "/v1/segment", jpeg, 404, "no segment model"),
        ]
        for (name, path, body, status, words) in cases {
            let r = try await s.call(path, method: "POST", body: body)
            XCTAssertEqual(r.status, status, "\(name): \(r.error)")
            XCTAssertTrue(r.error.contains(words), "\(name): '\(r.error)' lacks '\(words)'")
        }
        let get = try await s.call("/v1/pose")
        XCTAssertEqual(get.status, 405)
        XCTAssertTrue(get.error.contains("POST"))
        let nothing = try await s.call("/nothing/here")
        XCTAssertEqual(nothing.status, 404)
        // A 100 MB body is refused from its Content-Length, before a byte of it is read.
        let big = try s.raw("POST /v1/pose HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 104857600\r\nConnection: close\r\n\r\n", timeout: 5)
        XCTAssertTrue(big.reply.hasPrefix("HTTP/1.1 413"), big.reply)
        XCTAssertTrue(big.reply.contains("at most 1048576"), big.reply)
        // Still serving.
        let health = try await s.call("/healthz")
        XCTAssertEqual(health.status, 200)
        let pose = try await s.call("/v1/pose?" + boxQuery(boxes), method: "POST", body: jpeg)
        XCTAssertEqual(pose.status, 200)
    }

    func testSlowClientsAreCutOffAndAFullQueueSays503() async throws {
        let s = try await RunningServer {
            $0.bodyTimeout = 2
            $0.queueLimit = 1
        }
        defer { Task { await s.stop() } }
        // One byte a second of a 1000-byte body: 408 after the 2 s body deadline, connection closed.
        let head = "POST /v1/pose HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
        let slowTask = Task.detached { try s.raw(head, trickle: 1000, timeout: 15) }
        // While it holds the one admission slot (seen in /metrics), another request is turned away with Retry-After.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let m = String(decoding: try await s.call("/metrics").body, as: UTF8.self)
            if m.contains("hrnet_requests_in_flight_requests 1") { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let busy = try await s.call("/v1/pose", method: "POST", body: try Data(contentsOf: photo))
        XCTAssertEqual(busy.status, 503, busy.error)
        XCTAssertEqual(busy.headers["retry-after"], "1")
        let slow = try await slowTask.value
        XCTAssertTrue(slow.reply.hasPrefix("HTTP/1.1 408"), slow.reply)
        XCTAssertLessThan(slow.seconds, 8, "the slow client held the server \(slow.seconds) s")
        let health = try await s.call("/healthz")
        XCTAssertEqual(health.status, 200)
    }

    func testModelsOpenAPIPageAndMetrics() async throws {
        let s = try await RunningServer()
        defer { Task { await s.stop() } }
        let modelsReply = try await s.call("/v1/models")
        let models = try XCTUnwrap(modelsReply.json as? [[String: Any]])
        XCTAssertEqual(models.map { $0["name"] as? String }, ["pose", "person"])
        XCTAssertEqual(models[0]["person_detector"] as? String, "person")
        let openapiReply = try await s.call("/openapi.json")
        let openapi = try XCTUnwrap(openapiReply.json as? [String: Any])
        let paths = try XCTUnwrap(openapi["paths"] as? [String: Any])
        for p in ["/v1/pose", "/v1/segment", "/v1/classify", "/v1/detect", "/v1/models", "/healthz", "/metrics"] {
            XCTAssertNotNil(paths[p], p)
        }
        let page = try await s.call("/")
        XCTAssertEqual(page.headers["content-type"], "text/html; charset=utf-8")
        XCTAssertTrue(String(decoding: page.body, as: UTF8.self).contains("/v1/pose"))
        XCTAssertFalse(String(decoding: page.body, as: UTF8.self).contains("<script src"), "no external scripts")
        let detect = try await s.call("/v1/detect", method: "POST", body: try Data(contentsOf: photo))
        XCTAssertEqual(detect.status, 200, detect.error)
        XCTAssertEqual((((detect.json as? [String: Any])?["detections"]) as? [Any])?.isEmpty, false)
    }
}

import Classification
import DNN
import Detection
import Foundation
import HRNet
import Hummingbird
import Imaging
import NIOCore
import Pose
import Segmentation

/// The HTTP API (also served as an OpenAPI document at /openapi.json):
/// - `POST /v1/pose` (JPEG or PNG body; `box=x,y,w,h` repeatable, none: the model's person
///   detector, else the whole image; `flip=true|false`; `model=NAME`): the people with their
///   keypoints [x, y, score], score and box, the keypoint names and the skeleton;
/// - `POST /v1/segment` (`Accept: image/png`: the label map as a PNG; else JSON class areas);
/// - `POST /v1/classify` (`top=K`): the K most probable classes;
/// - `POST /v1/detect` (`threshold=S`): the detections;
/// - `GET /healthz`, `GET /v1/models`, `GET /metrics` (Prometheus text), `GET /openapi.json`, `GET /` (the page).
/// Errors are `{"error": ...}` with a 4xx or 5xx status.
struct Routes: Sendable {
    let server: HRNetServer

    func add(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: WebPage.html)))
        }
        router.get("/healthz") { _, _ in JSONBody.response(["status": "ok"]) }
        router.get("/v1/models") { _, _ in JSONBody.response(server.models.map(ModelInfo.init)) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: server.metrics.text())))
        }
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        for (path, handler) in [("/v1/pose", pose), ("/v1/segment", segment), ("/v1/classify", classify), ("/v1/detect", detect)]
            as [(String, @Sendable (Request) async throws -> Response)] {
            router.post(RouterPath(path)) { request, _ in try await infer(path, request, handler) }
            router.get(RouterPath(path)) { _, _ -> Response in throw ServerError(.methodNotAllowed, "\(path) takes POST with an image body") }
        }
    }

    /// Admission, the request timeout and the metrics around one inference request.
    func infer(_ route: String, _ request: Request, _ handler: @escaping @Sendable (Request) async throws -> Response) async throws -> Response {
        let started = DispatchTime.now()
        var status = 500
        defer {
            server.metrics.request(route: route, status: status,
                                   seconds: Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9)
        }
        guard let n = server.admission.enter(limit: server.options.queueLimit) else {
            status = 503
            throw ServerError(.serviceUnavailable, "the server is busy (\(server.options.queueLimit) requests in flight); try again shortly", retryAfter: 1)
        }
        server.metrics.inFlight(n)
        defer { server.metrics.inFlight(server.admission.leave()) }
        do {
            let response = try await withDeadline(server.options.requestTimeout,
                                                  ServerError(.gatewayTimeout, "no answer within \(server.options.requestTimeout) s")) {
                try await handler(request)
            }
            status = Int(response.status.code)
            return response
        } catch {
            status = Int(JSONErrorMiddleware<BasicRequestContext>.describe(error).0.code)
            throw error
        }
    }

    // MARK: - Request parts

    /// The body as an image: its size checked from Content-Length before reading, its reading
    /// bounded in time, its pixel count checked from its header before decoding.
    func image(_ request: Request) async throws -> Image {
        let limit = server.options.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw ServerError(.contentTooLarge, "the body is \(length) bytes; this server takes at most \(limit)")
        }
        let body = request.body
        let buffer: ByteBuffer
        do {
            buffer = try await withDeadline(server.options.bodyTimeout,
                                            ServerError(.requestTimeout, "the body did not arrive within \(server.options.bodyTimeout) s")) {
                try await body.collect(upTo: limit)
            }
        } catch let e as HTTPError where e.status == .contentTooLarge {
            throw ServerError(.contentTooLarge, "the body is larger than \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { throw ServerError.badRequest("the body is empty; send a JPEG or PNG image") }
        let data = Data(buffer.readableBytesView)
        let maxPixels = server.options.maxPixels
        return try await Background.run { try Image.decode(data, name: "the body", maxPixels: maxPixels) }
    }

    func query(_ request: Request, _ key: String) -> String? {
        request.uri.queryParameters[Substring(key)].map(String.init)
    }

    func bool(_ request: Request, _ key: String) throws -> Bool? {
        guard let v = query(request, key) else { return nil }
        switch v.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ServerError.badRequest("\(key)=\(v): expected true or false")
        }
    }

    func number(_ request: Request, _ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let v = query(request, key) else { return nil }
        guard let d = Double(v), d.isFinite, range.contains(d) else {
            throw ServerError.badRequest("\(key)=\(v): expected a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return d
    }

    /// `box=x,y,w,h` values, each checked against the image.
    func boxes(_ request: Request, image: Image) throws -> [PersonBox] {
        let values = request.uri.queryParameters[values: "box"]
        guard values.count <= 256 else { throw ServerError.badRequest("\(values.count) boxes; at most 256 per request") }
        return try values.enumerated().map { i, v in
            let parts = v.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 4, parts.allSatisfy({ $0?.isFinite == true }) else {
                throw ServerError.badRequest("box=\(v): expected four numbers x,y,w,h (pixels)")
            }
            let box = PersonBox(x: parts[0]!, y: parts[1]!, width: parts[2]!, height: parts[3]!)
            if let why = box.problem(imageWidth: image.width, imageHeight: image.height) {
                throw ServerError.badRequest("box \(i) (\(v)) \(why)")
            }
            return box
        }
    }

    // MARK: - Handlers

    func pose(_ request: Request) async throws -> Response {
        let model = try server.model(.pose, named: query(request, "model"))
        guard let estimator = model.pose, let batchers = server.batchers[model.name] else { throw ServerError(.internalServerError, "no pose estimator") }
        let flip = try bool(request, "flip") ?? estimator.config.flipTest
        let image = try await self.image(request)
        var boxes = try self.boxes(request, image: image)
        if boxes.isEmpty {
            if let people = model.personDetector, people.detector != nil {
                boxes = try await server.compute.run {
                    try people.detector!.people(in: image).map {
                        PersonBox(x: Double($0.box.x1), y: Double($0.box.y1), width: Double($0.box.width), height: Double($0.box.height),
                                  score: Double($0.score))
                    }
                }
            } else {
                boxes = [.whole(width: image.width, height: image.height)]
            }
        }
        var people: [Person] = []
        if !boxes.isEmpty {
            let crops = boxes.map(estimator.crop(for:))
            let heatmaps = try await (flip ? batchers.flip : batchers.plain).heatmaps(crops.map { (image, $0) })
            people = estimator.finish(boxes.indices.map { estimator.person(heatmaps, index: $0, crop: crops[$0], box: boxes[$0]) })
        }
        return JSONBody.response(PoseAnswer(model: model.name, image: .init(image), keypoints: estimator.keypoints, people: people))
    }

    func segment(_ request: Request) async throws -> Response {
        let model = try server.model(.segment, named: query(request, "model"))
        guard model.segmenter != nil else { throw ServerError(.internalServerError, "no segmenter") }
        let image = try await self.image(request)
        let labels = try await server.compute.run { try model.segmenter!.segment(image).labels }
        if request.headers[.accept]?.contains("image/png") == true {
            let png = try GrayImage(width: labels.width, height: labels.height, pixels: labels.labels).pngData()
            return Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(bytes: png)))
        }
        return JSONBody.response(SegmentAnswer(model: model.name, labels: labels, names: ModelInfo.classNames(model)))
    }

    func classify(_ request: Request) async throws -> Response {
        let model = try server.model(.classify, named: query(request, "model"))
        guard let preprocessing = model.classifier?.preprocessing else { throw ServerError(.internalServerError, "no classifier") }
        let top = Int(try number(request, "top", in: 1...1000) ?? 5)
        let image = try await self.image(request)
        let input = try await Background.run { preprocessing.batch([image]) }
        let predictions = try await server.compute.run {
            let classifier = model.classifier!.model
            return try classifier.classify(input, top: min(top, classifier.classes))[0]
        }
        return JSONBody.response(ClassifyAnswer(model: model.name, top: predictions.map {
            .init(index: $0.index, label: $0.label, probability: Double($0.probability))
        }))
    }

    func detect(_ request: Request) async throws -> Response {
        let model = try server.model(.detect, named: query(request, "model"))
        guard let classes = model.detector?.spec.classes else { throw ServerError(.internalServerError, "no detector") }
        let threshold = try number(request, "threshold", in: 0...1) ?? 0.3
        let image = try await self.image(request)
        let found = try await server.compute.run { try model.detector!.detect(image).filter { Double($0.score) >= threshold } }
        return JSONBody.response(DetectAnswer(model: model.name, image: .init(image), detections: found.map {
            .init(label: $0.label < classes.count ? classes[$0.label] : "class \($0.label)", score: Double($0.score),
                  box: [Double($0.box.x1), Double($0.box.y1), Double($0.box.width), Double($0.box.height)])
        }))
    }
}

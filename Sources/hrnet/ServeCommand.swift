import ArgumentParser
import Dispatch
import Foundation
import Server

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve pose estimation, segmentation, classification and detection over HTTP, with a web page.",
        discussion: """
        With no --models: the embedded default pose model, finding people with the embedded person \
        detector. --models FILE (YAML) lists named models: `models: [{name, task: pose|segment|classify|detect, \
        config or preset, weights, precision: fp32|bf16|int8, detector}]`. API: POST /v1/pose (image body; \
        box=x,y,w,h repeatable, flip, model), POST /v1/segment (Accept: image/png for the label map), \
        POST /v1/classify (top), POST /v1/detect (threshold), GET /healthz, /v1/models, /metrics \
        (Prometheus), /openapi.json, and / (a page to try it). Concurrent pose requests share network \
        runs (--max-batch crops, waiting at most --max-wait-ms); a request's answer equals its answer \
        alone. Bodies over --max-body-mb and images over --max-pixels are refused before decoding, more \
        than --queue requests at once get 503, and SIGTERM or Ctrl-C finishes the requests in flight.
        """
    )

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free one).") var port = 8080
    @Option(help: ArgumentHelp("A YAML file of the models to serve.", valueName: "file")) var models: String?
    @Option(help: "Crops per network run of the pose batcher.") var maxBatch = 8
    @Option(help: "How long the first crop waits for others to share its run when the network is idle (ms; 0: it runs at once, and crops arriving meanwhile form the next batch).")
    var maxWaitMs = 0.0
    @Option(help: "Largest request body (MB).") var maxBodyMb = 20.0
    @Option(help: "Largest image (pixels), checked from its header before decoding.") var maxPixels = 40_000_000
    @Option(help: "Inference requests admitted at once; more get 503 with Retry-After.") var queue = 64
    @Option(help: "Seconds to answer a request before 504.") var timeout = 30.0
    @Option(help: "Seconds a client may take to send its body before 408.") var bodyTimeout = 10.0
    @Option(help: "Threads of each model's network runs (default: all cores).") var threads: Int?
    @Flag(help: "Winograd convolutions for pose batches: faster, but a request's numbers then differ from its answer alone by ~1e-7.")
    var fastBatching = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard (1...256).contains(maxBatch) else { throw ValidationError("--max-batch must be 1...256") }
        guard maxWaitMs >= 0, maxWaitMs <= 10_000 else { throw ValidationError("--max-wait-ms must be 0...10000") }
        guard maxBodyMb > 0, maxBodyMb <= 1024 else { throw ValidationError("--max-body-mb must be in (0, 1024]") }
        guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive") }
        guard queue >= 1 else { throw ValidationError("--queue must be at least 1") }
        guard timeout > 0, bodyTimeout > 0 else { throw ValidationError("--timeout and --body-timeout must be positive") }
        if let threads, !(1...1024).contains(threads) { throw ValidationError("--threads must be 1...1024") }
    }

    func run() throws {
        var options = ServerOptions()
        options.host = host
        options.port = port
        options.maxBatch = maxBatch
        options.maxWaitMilliseconds = maxWaitMs
        options.maxBodyBytes = Int(maxBodyMb * 1_048_576)
        options.maxPixels = maxPixels
        options.queueLimit = queue
        options.requestTimeout = timeout
        options.bodyTimeout = bodyTimeout
        options.threads = threads
        options.exactBatching = !fastBatching
        let entries = try models.map { try ModelEntry.load(URL(fileURLWithPath: $0)) } ?? ModelEntry.defaults
        let server = try HRNetServer(entries: entries, options: options)
        let list = server.models.map { "\($0.name) (\($0.task.rawValue))" }.joined(separator: ", ")
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: (any Error)?
        let host = self.host
        Task {
            do {
                try await server.run { port in
                    // Written straight to the descriptor: a pipe (a supervisor, a test) reads it at once.
                    let line = "hrnet serve: listening on http://\(host):\(port) (models: \(list))\n"
                    FileHandle.standardOutput.write(Data(line.utf8))
                }
            } catch {
                failure = error
            }
            done.signal()
        }
        done.wait()
        if let failure { throw failure }
        print("hrnet serve: stopped")
    }
}

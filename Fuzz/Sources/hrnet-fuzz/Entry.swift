import Foundation

/// libFuzzer's entry point. The target comes from HRNET_FUZZ; each input is written to a file
/// of its own folder (in /dev/shm where there is one) because the public readers take files.
nonisolated(unsafe) private var current: (target: FuzzTarget, url: URL)?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    if current == nil {
        let name = ProcessInfo.processInfo.environment["HRNET_FUZZ"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("set HRNET_FUZZ to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
            exit(2)
        }
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        let folder = base.appendingPathComponent("hrnet-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        current = (target, folder.appendingPathComponent(target.fileName))
    }
    let (target, url) = current!
    let data = Data(bytes: bytes, count: count)
    guard (try? data.write(to: url)) != nil else { return 0 }
    target.run(data, at: url)
    return 0
}

/// libFuzzer's driver (its `main` made callable), declared by hand: it has no header.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// SwiftPM links an executable's entry as `<module>_main`; libFuzzer's driver runs from it.
@_cdecl("hrnet_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { fuzzOneInput($0, $1) }
}

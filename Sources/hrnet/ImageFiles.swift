import ArgumentParser
import Foundation
import Glibc

/// Command-line image arguments: files, directories (their images, sorted) and glob patterns.
enum ImageFiles {
    static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    static func expand(_ arguments: [String]) throws -> [URL] {
        var out: [URL] = []
        for arg in arguments {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: arg, isDirectory: &isDir) {
                if isDir.boolValue {
                    let names = try FileManager.default.contentsOfDirectory(atPath: arg).sorted()
                    let found = names.filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }
                    if found.isEmpty { throw ValidationError("\(arg): the directory has no .jpg, .jpeg or .png files") }
                    out += found.map { URL(fileURLWithPath: arg).appendingPathComponent($0) }
                } else {
                    out.append(URL(fileURLWithPath: arg))
                }
            } else if arg.contains(where: { "*?[".contains($0) }) {
                let matches = glob(arg)
                if matches.isEmpty { throw ValidationError("\(arg): no file matches the pattern") }
                out += matches.map { URL(fileURLWithPath: $0) }
            } else {
                throw ValidationError("\(arg): no such file or directory")
            }
        }
        return out
    }

    private static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }
            .filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
    }
}

/// An output directory that receives one file per input.
enum OutputDirectory {
    /// Creates `dir` if needed; refuses (before any work) when one of `files` exists there and `force` is off.
    static func prepare(_ dir: URL, files: [String], force: Bool) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw ValidationError("\(dir.path) exists and is not a directory") }
        } else {
            do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
                throw ValidationError("\(dir.path): cannot create the directory (\(error.localizedDescription))")
            }
        }
        guard FileManager.default.isWritableFile(atPath: dir.path) else { throw ValidationError("\(dir.path) is not writable") }
        if !force, let existing = files.first(where: { FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path) }) {
            throw ValidationError("\(dir.appendingPathComponent(existing).path) exists; pass --force to replace it")
        }
        let names = Set(files)
        if names.count < files.count { throw ValidationError("two inputs would write the same file name into \(dir.path)") }
    }
}

import Foundation

/// Reads a config file and, depth first, the `_base_` files it names (mmengine's
/// `Config._file2dict`): each base is loaded with its own bases, the bases are combined (no
/// key may come from two of them), the file is evaluated with that combination as `_base_`,
/// and its values are merged on top.
struct PyConfigLoader {
    let limits: PythonConfig.Limits
    var filesRead = 0

    /// `displayName` is the path as the user would read it (relative to the first file);
    /// `chain` holds the files being loaded, outermost first, to catch cycles; `from` is the
    /// file and token that named this one, for errors about it.
    mutating func load(
        _ url: URL, displayName: String, chain: [(url: URL, name: String)],
        from includer: (file: String, token: PyToken)?
    ) throws -> PyDict {
        func includerError(_ kind: PythonConfigError.Kind, _ message: String) -> PythonConfigError {
            guard let includer else { return PythonConfigError(kind, file: displayName, message) }
            return PythonConfigError(
                kind, file: includer.file, line: includer.token.line, column: includer.token.column, message)
        }
        // Bases resolve against the path as named (mmengine's abspath); cycles are found on the
        // real path, so a symlink cannot hide one.
        let file = url.standardizedFileURL
        let canonical = file.resolvingSymlinksInPath()
        if let start = chain.firstIndex(where: { $0.url == canonical }) {
            let cycle = chain[start...].map(\.name) + [displayName]
            throw includerError(.inheritance, "_base_ cycle: " + cycle.joined(separator: " -> "))
        }
        if chain.count >= limits.maxBaseDepth {
            throw includerError(.limit, "_base_ chain deeper than \(limits.maxBaseDepth) files")
        }
        filesRead += 1
        if filesRead > limits.maxFiles {
            throw includerError(.limit, "more than \(limits.maxFiles) files in the _base_ tree")
        }

        let text = try read(file, displayName: displayName, includerError: includerError)
        let tokens = try PyTokenizer.tokenize(text, file: displayName, maxNesting: limits.maxNesting)
        let bases = try PyParser.baseFiles(tokens: tokens, file: displayName, limits: limits)

        var combined = PyDict()
        var owner: [String: String] = [:]
        for base in bases {
            let at = (file: displayName, token: base.token)
            if base.path.contains("::") {
                throw PythonConfigError(
                    .inheritance, file: displayName, line: base.token.line, column: base.token.column,
                    "package-scoped bases ('\(base.path)') are not supported; copy the file and name it by path")
            }
            guard base.path.hasSuffix(".py") else {
                throw PythonConfigError(
                    .inheritance, file: displayName, line: base.token.line, column: base.token.column,
                    "only Python (.py) bases are supported, not '\(base.path)'")
            }
            let baseURL =
                base.path.hasPrefix("/")
                ? URL(fileURLWithPath: base.path)
                : file.deletingLastPathComponent().appendingPathComponent(base.path)
            let baseName = PyConfigLoader.joinDisplay(displayName, base.path)
            let values = try load(
                baseURL, displayName: baseName, chain: chain + [(canonical, displayName)], from: at)
            for (key, value) in values {
                if let first = owner[key] {
                    throw PythonConfigError(
                        .inheritance, file: displayName, line: base.token.line, column: base.token.column,
                        "bases \(first) and \(baseName) both define '\(key)' (mmengine forbids duplicate keys among bases)")
                }
                owner[key] = baseName
                combined[key] = value
            }
        }
        var parser = PyParser(file: displayName, tokens: tokens, base: bases.isEmpty ? nil : combined, limits: limits)
        let own = try parser.parseModule()
        return try PyConfigMerge.merge(own, into: combined, file: displayName)
    }

    /// The file's text: a regular file (not a directory, device or pipe that could block), at
    /// most `maxFileBytes`, UTF-8.
    func read(
        _ url: URL, displayName: String,
        includerError: (PythonConfigError.Kind, String) -> PythonConfigError
    ) throws -> String {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: url.resolvingSymlinksInPath().path)
        } catch {
            throw includerError(.io, "cannot read \(displayName): no such file (\(url.path))")
        }
        guard attributes[.type] as? FileAttributeType == .typeRegular else {
            throw includerError(.io, "cannot read \(displayName): not a regular file")
        }
        if let size = attributes[.size] as? Int, size > limits.maxFileBytes {
            throw includerError(.limit, "\(displayName) is larger than \(limits.maxFileBytes) bytes")
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            data = try handle.read(upToCount: limits.maxFileBytes + 1) ?? Data()
        } catch {
            throw includerError(.io, "cannot read \(displayName): \(error.localizedDescription)")
        }
        if data.count > limits.maxFileBytes {
            throw includerError(.limit, "\(displayName) is larger than \(limits.maxFileBytes) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw includerError(.io, "\(displayName) is not UTF-8 text")
        }
        return text
    }

    /// `a/b.py` + `../c/d.py` = `a/c/d.py`: a base's path as seen from the first file, for
    /// messages that name it.
    static func joinDisplay(_ including: String, _ relative: String) -> String {
        if relative.hasPrefix("/") { return relative }
        var parts = including.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        parts.removeLast()
        for part in relative.split(separator: "/").map(String.init) {
            switch part {
            case ".": continue
            case "..":
                if let last = parts.last, last != ".." { parts.removeLast() } else { parts.append("..") }
            default: parts.append(part)
            }
        }
        return parts.joined(separator: "/")
    }
}

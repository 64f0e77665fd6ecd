import Foundation

/// An mmdet/mmengine Python config, read without running Python.
///
/// mmdetection ships its models' settings as Python files (`model = dict(type='FCOS', ...)`)
/// that inherit from others through `_base_`, and stores the merged text in checkpoints
/// (`meta['config']` in mmdet 2.x, `meta['cfg']` in 3.x). Running that text would let a config
/// or a downloaded checkpoint run code, so this reads a literal subset instead — assignments
/// of numbers, strings, lists, tuples, dicts and `dict(...)`, arithmetic, names assigned
/// earlier, `_base_.x` and `{{_base_.x}}` — and refuses everything else with the file and line.
///
///     let config = try PythonConfig.load(contentsOf: url)
///     let type = try config["model"]["backbone"]["type"].string()       // "HRNet"
///     let extra = config.value["model"]?["backbone"]?["extra"]          // PyValue?
public struct PythonConfig: Sendable {
    /// The file name (or the name given to `parse`), used in error messages.
    public let name: String
    /// The top-level names and their values, bases first, in mmengine's order.
    public let values: PyDict

    public init(name: String, values: PyDict) {
        self.name = name
        self.values = values
    }

    /// The whole config as one dict value, for optional chaining: `value["model"]?["neck"]`.
    public var value: PyValue { .dict(values) }

    /// The config's top level as a node, for typed reads with path-aware errors.
    public var root: PyConfigNode { PyConfigNode(file: name, value: value) }

    public subscript(key: String) -> PyConfigNode { root[key] }

    /// Bounds that keep hostile input from exhausting the stack, memory or time. The defaults
    /// are far above what mmdetection's configs use (a merged config has a few thousand
    /// values, nesting under 10 and chains of 5 files).
    public struct Limits: Sendable {
        /// Largest config file (or text) read.
        public var maxFileBytes = 1 << 20
        /// Deepest bracket nesting in the text, and deepest nesting of values.
        public var maxNesting = 100
        /// Longest `_base_` chain.
        public var maxBaseDepth = 16
        /// Most files read for one config, counting every base.
        public var maxFiles = 64
        /// Most values one file may build, copy or hold (strings count one per 64 bytes).
        public var maxValues = 1_000_000

        public init() {}
    }

    /// Reads a config file and its `_base_` files (paths relative to the file that names them),
    /// merged by mmengine's rules: the bases' keys must be distinct, the file's dicts merge
    /// into the bases' (`_delete_=True` replaces instead), other values replace.
    public static func load(contentsOf url: URL, limits: Limits = Limits()) throws -> PythonConfig {
        var loader = PyConfigLoader(limits: limits)
        let values = try loader.load(url, displayName: url.lastPathComponent, chain: [], from: nil)
        return PythonConfig(name: url.lastPathComponent, values: values)
    }

    /// Reads config text that names no `_base_`, such as the merged config a checkpoint keeps
    /// (`Config.pretty_text`).
    public static func parse(text: String, name: String, limits: Limits = Limits()) throws -> PythonConfig {
        if text.utf8.count > limits.maxFileBytes {
            throw PythonConfigError(.limit, file: name, "the text is larger than \(limits.maxFileBytes) bytes")
        }
        let tokens = try PyTokenizer.tokenize(text, file: name, maxNesting: limits.maxNesting)
        if let first = try PyParser.baseFiles(tokens: tokens, file: name, limits: limits).first {
            throw PythonConfigError(
                .inheritance, file: name, line: first.token.line, column: first.token.column,
                "_base_ names files relative to a config file: read it with PythonConfig.load(contentsOf:)")
        }
        var parser = PyParser(file: name, tokens: tokens, base: nil, limits: limits)
        let own = try parser.parseModule()
        return PythonConfig(name: name, values: try PyConfigMerge.merge(own, into: PyDict(), file: name))
    }
}

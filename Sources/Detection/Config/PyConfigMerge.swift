import Foundation

/// mmengine's rule for putting a config on top of its bases (`Config._merge_a_into_b`):
/// a dict in the child merges key by key into the base's dict at the same place, unless it
/// says `_delete_=True`, which replaces the base's dict; anything else (numbers, strings,
/// lists, tuples) replaces. A dict cannot merge into a base value that is not a dict.
///
/// One difference: mmengine leaves a `_delete_` flag in the result where there was nothing to
/// replace; here every `_delete_` is removed, since it is an instruction, not a setting.
enum PyConfigMerge {
    static let deleteKey = "_delete_"

    static func merge(_ child: PyDict, into base: PyDict, file: String, path: [String] = []) throws -> PyDict {
        var result = base
        for (key, value) in child where key != deleteKey {
            let keyPath = path + [key]
            guard case .dict(var childDict) = value else {
                result[key] = try withoutDeleteFlags(value, file: file, path: keyPath)
                continue
            }
            let replace = try takeDeleteFlag(&childDict, file: file, path: keyPath)
            guard !replace, let existing = base[key] else {
                result[key] = try withoutDeleteFlags(.dict(childDict), file: file, path: keyPath)
                continue
            }
            guard case .dict(let baseDict) = existing else {
                throw PythonConfigError(
                    .inheritance, file: file, keyPath: describe(keyPath),
                    "a dict here cannot merge into the base's \(existing.typeName); "
                        + "add _delete_=True to replace it")
            }
            result[key] = .dict(try merge(childDict, into: baseDict, file: file, path: keyPath))
        }
        return result
    }

    /// Removes and returns a dict's `_delete_` flag, which must be True or False.
    static func takeDeleteFlag(_ dict: inout PyDict, file: String, path: [String]) throws -> Bool {
        guard let flag = dict.removeValue(forKey: deleteKey) else { return false }
        guard case .bool(let b) = flag else {
            throw PythonConfigError(
                .inheritance, file: file, keyPath: describe(path + [deleteKey]),
                "_delete_ must be True or False, found \(flag.typeName)")
        }
        return b
    }

    /// The value with every dict's `_delete_` flag removed (inside lists and tuples too).
    static func withoutDeleteFlags(_ value: PyValue, file: String, path: [String]) throws -> PyValue {
        switch value {
        case .dict(var d):
            _ = try takeDeleteFlag(&d, file: file, path: path)
            var out = PyDict()
            for (k, v) in d { out[k] = try withoutDeleteFlags(v, file: file, path: path + [k]) }
            return .dict(out)
        case .list(let items):
            return .list(try items.enumerated().map { try withoutDeleteFlags($1, file: file, path: path + ["[\($0)]"]) })
        case .tuple(let items):
            return .tuple(try items.enumerated().map { try withoutDeleteFlags($1, file: file, path: path + ["[\($0)]"]) })
        default:
            return value
        }
    }

    /// `["model", "neck"]` as `model.neck`, `["n", "[0]"]` as `n[0]`.
    static func describe(_ path: [String]) -> String {
        path.reduce("") { $0.isEmpty || $1.hasPrefix("[") ? $0 + $1 : $0 + "." + $1 }
    }
}

import DNN
import XCTest

/// The checks every training golden makes against a PyTorch step: each parameter's gradient to
/// `relative` of its tensor's largest plus `absolute` (gradients that are zero in theory, e.g. a
/// conv bias before train-mode BN, come out as rounding noise in both engines), and the values
/// after the optimizer step to `relative` of their scale.
public enum TrainingGoldenChecks {
    /// Returns the worst key and its error over the tensor's largest gradient.
    @discardableResult
    public static func gradients(of plan: TrainingPlan, match expected: [String: Tensor], relative: Float, absolute: Float,
                                 file: StaticString = #filePath, line: UInt = #line) throws -> (key: String, error: Float) {
        XCTAssertEqual(Set(expected.keys), Set(plan.parameters.entries.map(\.key)), file: file, line: line)
        var worst = (key: "", error: Float(0))
        for (key, e) in expected {
            let got = try XCTUnwrap(plan.parameters.gradient(key), key, file: file, line: line)
            let scale = max(e.scalars.map(abs).max() ?? 0, 1e-12)
            let error = zip(got.scalars, e.scalars).map { abs($0 - $1) }.max()!
            if error / scale > worst.error { worst = (key, error / scale) }
            XCTAssertLessThanOrEqual(error, relative * scale + absolute, "gradient of \(key)", file: file, line: line)
        }
        return worst
    }

    /// The parameters and running statistics after the step (BN counters skipped: PyTorch's are
    /// per layer, the engine keeps one).
    public static func values(of plan: TrainingPlan, match stored: [String: StoredTensor], relative: Float,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        for (key, t) in stored where !key.hasSuffix("num_batches_tracked") {
            let expected = t.floatTensor()
            let got = try XCTUnwrap(plan.parameters.value(key), key, file: file, line: line)
            let scale = max(expected.scalars.map(abs).max() ?? 0, 1e-6)
            let error = zip(got.scalars, expected.scalars).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(error, relative * scale, "\(key) after the update", file: file, line: line)
        }
    }
}

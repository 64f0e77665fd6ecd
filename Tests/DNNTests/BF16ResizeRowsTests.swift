import XCTest
@testable import DNN
import TestSupport

/// The bf16 resize's AVX-512 rows (CDNNL/bf16_rows.h) against the engine's portable Swift kernel:
/// bit for bit (the same operations in the same order, rounded to nearest even the same way),
/// nearest with and without the fusion's sum and ReLU, bilinear with and without aligned corners,
/// odd sizes, several planes, 1 and 2 threads.
final class BF16ResizeRowsTests: XCTestCase {
    func testRowsEqualThePortableKernel() throws {
        try XCTSkipUnless(Kernels.avx512Rows, "this CPU has no AVX-512")
        let planes = 3, pixel = 16
        let shapes = [(inH: 5, inW: 7, outH: 10, outW: 14), (inH: 3, inW: 4, outH: 12, outW: 16), (inH: 6, inW: 5, outH: 11, outW: 9)]
        let modes: [ResizeMode] = [.nearest, .bilinear(alignCorners: false), .bilinear(alignCorners: true)]
        var random = SystemRandomNumberGenerator()
        func bf16(_ count: Int) -> [UInt16] {
            (0..<count).map { _ in UInt16(truncatingIfNeeded: Float.random(in: -3...3, using: &random).bitPattern >> 16) }
        }
        var checked = 0
        for s in shapes {
            for mode in modes {
                let rows = Kernels.ResizeAxis(inSize: s.inH, outSize: s.outH, mode: mode)
                let cols = Kernels.ResizeAxis(inSize: s.inW, outSize: s.outW, mode: mode)
                let src = bf16(planes * s.inH * s.inW * pixel), base = bf16(planes * s.outH * s.outW * pixel)
                for (withBase, relu) in [(false, false), (true, false), (true, true), (false, true)] {
                    for threads in [1, 2] {
                        var outputs: [[UInt16]] = []
                        for avx512 in [true, false] {
                            var out = [UInt16](repeating: 0xFFFF, count: planes * s.outH * s.outW * pixel)
                            src.withUnsafeBytes { x in
                                base.withUnsafeBytes { b in
                                    out.withUnsafeMutableBytes { d in
                                        Kernels.resize(.bf16, dst: d.baseAddress!, src: x.baseAddress!, base: withBase ? b.baseAddress! : nil,
                                                       planes: planes, inH: s.inH, inW: s.inW, rows: rows, cols: cols, block: 16,
                                                       relu: relu, threads: threads, avx512: avx512)
                                    }
                                }
                            }
                            outputs.append(out)
                        }
                        XCTAssertEqual(outputs[0], outputs[1], "\(s) \(mode) base \(withBase) relu \(relu) threads \(threads)")
                        XCTAssertFalse(outputs[0].contains(0xFFFF), "every output written")
                        checked += 1
                    }
                }
            }
        }
        XCTAssertEqual(checked, 72)
    }
}

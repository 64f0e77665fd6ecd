import Collectives
import Foundation

/// Batch norm over the batches of every process of a data-parallel run (PyTorch's
/// `SyncBatchNorm`): N processes with batch B normalize, and back-propagate, exactly as one
/// process with batch N x B.
///
/// Forward: each process sums x and x² per channel (in double), the sums are added over the
/// processes, and oneDNN normalizes with the global mean and (biased) variance as given
/// statistics. Backward: oneDNN's backward with given statistics leaves γ/σ · dy in dx and this
/// process's Σ dy and Σ dy·x̂ as the shift and scale gradients; with those sums added over the
/// processes, dx -= γ/σ · (Σ dy + x̂ Σ dy·x̂) / M (M the global count) is the true gradient of
/// normalizing with statistics that depend on x. The parameter gradients keep this process's
/// sums: the gradient all-reduce after backward adds them like every other gradient.
enum SynchronizedBatchNorm {
    /// Per channel Σx then Σx² (2C doubles) of a blocked (n, C/block, h, w, block) activation.
    static func channelSums(_ x: UnsafePointer<Float>, shape s: Shape4, block: Int, threads: Int) -> [Double] {
        let blocks = (s.c + block - 1) / block, pixels = s.h * s.w
        var sums = [Double](repeating: 0, count: 2 * blocks * block)
        sums.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            // One channel block per task: its lanes' sums are written by that task only.
            Kernels.parallel(blocks, threads: threads) { r in
                for cb in r {
                    var sum = [Double](repeating: 0, count: block), squares = [Double](repeating: 0, count: block)
                    for n in 0..<s.n {
                        let base = (n * blocks + cb) * pixels * block
                        for p in 0..<pixels {
                            for l in 0..<block {
                                let v = Double(x[base + p * block + l])
                                sum[l] += v
                                squares[l] += v * v
                            }
                        }
                    }
                    for l in 0..<block {
                        out[cb * block + l] = sum[l]
                        out[blocks * block + cb * block + l] = squares[l]
                    }
                }
            }
        }
        return Array(sums[0..<s.c]) + Array(sums[blocks * block..<blocks * block + s.c])
    }

    /// The global mean and biased variance from summed Σx, Σx² over `count` values per channel.
    static func statistics(_ sums: [Double], channels c: Int, count: Double, mean: UnsafeMutablePointer<Float>,
                           variance: UnsafeMutablePointer<Float>) {
        for k in 0..<c {
            let m = sums[k] / count
            mean[k] = Float(m)
            variance[k] = Float(max(sums[c + k] / count - m * m, 0))
        }
    }

    /// dx -= γ/σ · (S1 + x̂ S2) / M per element, with S1 = Σ dy and S2 = Σ dy·x̂ over every
    /// process (padding lanes of the last block stay zero).
    static func correctGradient(_ dx: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, shape s: Shape4, block: Int,
                                mean: UnsafePointer<Float>, variance: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                eps: Float, sums: [Double], count: Double, threads: Int) {
        let blocks = (s.c + block - 1) / block, pixels = s.h * s.w
        var a = [Float](repeating: 0, count: blocks * block), b = a, m = a, r = a
        for c in 0..<s.c {
            let rstd = 1 / (variance[c] + eps).squareRoot()
            // dx -= k·S1 + k·S2·x̂ = a + b·x̂, with k = γ·rstd / M.
            let k = Double(gamma[c]) * Double(rstd) / count
            a[c] = Float(k * sums[c])
            b[c] = Float(k * sums[s.c + c])
            m[c] = mean[c]
            r[c] = rstd
        }
        Kernels.parallel(s.n * blocks, threads: threads) { range in
            for plane in range {
                let cb = plane % blocks, base = plane * pixels * block, c0 = cb * block
                for p in 0..<pixels {
                    for l in 0..<block where c0 + l < s.c {
                        let i = base + p * block + l, c = c0 + l
                        dx[i] -= a[c] + b[c] * (x[i] - m[c]) * r[c]
                    }
                }
            }
        }
    }

    /// Adds `values` over the processes; a failed collective ends the job (the other processes
    /// are waiting in it), naming the layer.
    static func allReduce(_ values: inout [Double], _ communicator: any Communicator, _ layer: String) {
        do { try values.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) } } catch {
            communicator.abort(code: 1, message: "synchronized batch norm \(layer): \(error)")
        }
    }
}

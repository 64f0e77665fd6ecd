import CDNNL
import CKernels

extension Plan.Builder {
    /// The CPU runs the engine's bf16 Winograd kernel (CKernels/winograd_bf16.c: AVX512-BF16).
    static let winogradBF16Supported = cdnnl_winograd_bf16_supported() != 0

    /// Bytes of scratch a group of tiles may take (input and product tiles), so that a thread's
    /// group stays in its L2 cache between the transforms and the dot products (a quarter of
    /// a Zen 5 core's: as fast as half of it, and leaves room to a sibling hyperthread).
    static let winogradBF16GroupBytes = 256 * 1024

    /// A bf16 3x3 convolution (stride 1, padding 1, channels in 16s, BN folded, bias, residual
    /// sum and ReLU fused) through the engine's Winograd F(2x2, 3x3) kernel: oneDNN 2.6 runs bf16
    /// 3x3 convolutions direct only, with 36/16 the multiplications. Batches under
    /// `bf16WinogradMinimumTiles` tiles stay with oneDNN (small maps count by their batch's tiles:
    /// pose W32 batch 8's 8x6 maps, 96 tiles, run 2-4% faster in the kernel). Returns false where the kernel does not apply (before taking the weights).
    /// The sums differ from direct bf16 by the rounding of the transformed tiles and weights to
    /// bf16 (about one bf16 step of the output).
    mutating func emitWinogradBF16(node: Int, batchNorm bn: Int?, postOps: [PostOp], x: Int, src srcValue: Int, out: Int,
                                   threads: Int, p: inout [String: Tensor], plan: Plan) throws -> Bool {
        guard options.bf16, options.winograd, options.bf16Winograd, int8 == nil, Self.winogradBF16Supported,
              case .conv(let c) = graph.nodes[node].op, !c.transposed, c.kernel == (3, 3), c.stride == (1, 1), c.padding == (1, 1),
              c.dilation == (1, 1), c.groups == 1 else { return false }
        let xs = shapes[x], ys = shapes[out], oc = graph.nodes[node].channels
        let tiles = xs.n * ((ys.h + 1) / 2) * ((ys.w + 1) / 2)
        guard xs.c % 16 == 0, oc % 16 == 0, ys.h == xs.h, ys.w == xs.w, tiles >= options.bf16WinogradMinimumTiles,
              MemoryDesc.equal(desc[srcValue]!, try MemoryDesc.blocked(xs, element)),
              MemoryDesc.equal(desc[out]!, try MemoryDesc.blocked(ys, element)) else { return false }
        let (sum, relu): (Bool, Bool)
        switch postOps {
        case []: (sum, relu) = (false, false)
        case [.relu]: (sum, relu) = (false, true)
        case [.sum]: (sum, relu) = (true, false)
        case [.sum, .relu]: (sum, relu) = (true, true)
        default: return false
        }
        let (u, bias) = try winogradBF16Weights(c, batchNorm: bn, inputs: xs.c, outputs: oc, p: &p, plan: plan)

        // Tiles in groups small enough for L2, at least one per thread, each thread a group at a
        // time; unless the weights are the larger traffic (deep branches: few tiles, many channels):
        // then the threads split the output blocks, each reading only its blocks' weights, and each
        // takes every tile, a chunk at a time (the input transform done once per thread: cheap next
        // to the products, and no tile crosses between cores).
        let round = { (n: Int) in (n + 7) / 8 * 8 }
        let perTile = 16 * (2 * xs.c + 4 * oc), weightBytes = 16 * xs.c * oc * 2, blocks = oc / 16
        let fit = max(8, Self.winogradBF16GroupBytes / perTile / 8 * 8)
        let tileGroup = min(fit, round((tiles + threads - 1) / threads))
        let byBlocks = (tiles + tileGroup - 1) / tileGroup * weightBytes > 2 * round(tiles) * perTile
        let parts = byBlocks ? min(threads, blocks) : min(threads, (tiles + tileGroup - 1) / tileGroup)
        // The most output blocks one call takes.
        let callBlocks = byBlocks ? (blocks + parts - 1) / parts : blocks
        let chunk = cdnnl_wino_bf16_chunk(callBlocks)
        let group = byBlocks ? chunk : tileGroup, groups = (tiles + group - 1) / group
        let inputBytes = cdnnl_wino_bf16_input_bytes(group, xs.c)
        let slot = inputBytes + cdnnl_wino_bf16_product_bytes(chunk, callBlocks)
        requestKernelScratch(parts * slot)
        let scratch = kernelScratch
        let (d, s, inputs) = (pointer(out), UnsafeRawPointer(pointer(srcValue)), xs.c)
        let (sumFlag, reluFlag): (Int32, Int32) = (sum ? 1 : 0, relu ? 1 : 0)
        let flops = 2 * Double(ys.count) * Double(xs.c * 9)
        kernel("convolution 3x3 [wino_bf16:engine]", name: c.operationName, flops: flops) {
            let base = scratch.pointer!
            Kernels.parallel(parts, threads: parts) { range in
                for part in range {
                    let input = base + part * slot
                    // By blocks: this part's blocks, every group; else: all blocks, this part's groups.
                    let (outputBlocks, ownGroups) = byBlocks
                        ? ((blocks * part / parts)..<(blocks * (part + 1) / parts), 0..<groups)
                        : (0..<blocks, (groups * part / parts)..<(groups * (part + 1) / parts))
                    for g in ownGroups {
                        cdnnl_wino_bf16_tiles(d.assumingMemoryBound(to: UInt16.self), s.assumingMemoryBound(to: UInt16.self),
                                              u.assumingMemoryBound(to: UInt16.self), bias.assumingMemoryBound(to: Float.self),
                                              inputs, oc, ys.h, ys.w, g * group, min(tiles, (g + 1) * group), input,
                                              input + inputBytes, chunk, sumFlag, reluFlag, outputBlocks.lowerBound, outputBlocks.upperBound)
                    }
                }
            }
        }
        return true
    }

    /// The transformed weights U (bf16) and the bias (fp32, zeros without one) of a convolution:
    /// from the plans of other shapes (`PackedWeights`), or folded and transformed here.
    private mutating func winogradBF16Weights(_ c: Conv, batchNorm bn: Int?, inputs: Int, outputs: Int, p: inout [String: Tensor],
                                              plan: Plan) throws -> (UnsafeRawPointer, UnsafeRawPointer) {
        let key = "\(c.key)|\(bn.map { graph.nodes[$0].op.name } ?? "")|wino_bf16"
        let layout = try MemoryDesc.plain([16 * inputs * outputs], .bf16)
        if let shared, let e = shared.lookup(key, layout), let b = e.bias { return (UnsafeRawPointer(e.weights), UnsafeRawPointer(b)) }
        let (weight, folded) = Self.foldedWeights(c, batchNorm: bn, &p, graph)
        let bytes = 16 * inputs * outputs * 2
        let u = shared?.allocate(bytes) ?? plan.own(bytes: bytes)
        weight.scalars.withUnsafeBufferPointer {
            cdnnl_wino_bf16_weights($0.baseAddress!, u.assumingMemoryBound(to: UInt16.self), outputs, inputs)
        }
        let biasValues = folded ?? [Float](repeating: 0, count: outputs)
        let b: UnsafeMutableRawPointer
        if let shared {
            b = shared.allocate(outputs * 4)
            biasValues.withUnsafeBytes { b.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            shared.store(key, .init(desc: layout, weights: u, bias: b))
        } else {
            b = plan.own(biasValues)
        }
        return (UnsafeRawPointer(u), UnsafeRawPointer(b))
    }
}

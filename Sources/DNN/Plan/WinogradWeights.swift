import CDNNL

/// The Winograd weight transform U = G g Gᵀ of each 3x3 kernel g, written straight into the
/// layouts of oneDNN's AVX-512 fp32 Winograd convolutions: F(2x2, 3x3) (`aaOio`, `aaOBiOo`) and
/// F(4x4, 3x3) (`OBaaIBOIio`).
///
/// oneDNN's own reorder does the same arithmetic in scalar loops and was half of a plan's
/// compile time (W32: ~150 of ~300 ms); here 16 output channels go through it at once.
/// Facts from oneDNN 2.6 (src/cpu/x64/wino_reorder.hpp): the G matrices below; every layout
/// keeps blocks of 16 output channels innermost, channels past the real counts are zero, and
/// the tiles and blocks nest as `offset` spells out.
struct WinogradWeights {
    let format: dnnl_wino_memory_format_t
    let outputs: Int, inputs: Int
    let alpha: Int
    let oc: Int, ic: Int, icBlock: Int, oc2Block: Int, ic2Block: Int
    static let ocBlock = 16
    let g: [[Float]]

    /// F(2x2, 3x3): 4 x 3.
    static let g2x3: [[Float]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
    /// F(4x4, 3x3): oneDNN's scaled 6 x 3.
    static let g4x3: [[Float]] = [
        [1.13777777777778, 0, 0],
        [-0.688403361344538, -0.430252100840336, -0.26890756302521],
        [-0.688403361344538, 0.430252100840336, -0.26890756302521],
        [0.119514472455649, 0.179271708683473, 0.26890756302521],
        [0.119514472455649, -0.179271708683473, 0.26890756302521],
        [0, 0, 1],
    ]

    /// The layout `target` describes, or nil when it is not one this transform writes (then
    /// oneDNN's reorder does it).
    init?(target: dnnl_memory_desc_t, outputs: Int, inputs: Int) {
        guard target.format_kind == dnnl_format_kind_wino, target.data_type == dnnl_f32 else { return nil }
        let w = target.format_desc.wino_desc
        let big = w.wino_format == dnnl_wino_wei_OBaaIBOIio
        guard big || w.wino_format == dnnl_wino_wei_aaOio || w.wino_format == dnnl_wino_wei_aaOBiOo,
              w.r == 3, w.alpha == (big ? 6 : 4), Int(w.oc_block) == Self.ocBlock, w.ic_block > 0, w.oc2_block > 0,
              Int(w.oc) >= outputs, Int(w.ic) >= inputs, w.oc % (w.oc_block * w.oc2_block) == 0,
              w.size == Int(w.oc) * Int(w.ic) * Int(w.alpha * w.alpha) * 4
        else { return nil }
        let ic2 = big ? Int(w.ic2_block) : 1
        guard ic2 > 0, Int(w.ic) % (Int(w.ic_block) * ic2) == 0 else { return nil }
        (format, self.outputs, self.inputs, alpha) = (w.wino_format, outputs, inputs, Int(w.alpha))
        (oc, ic, icBlock, oc2Block, ic2Block) = (Int(w.oc), Int(w.ic), Int(w.ic_block), Int(w.oc2_block), ic2)
        g = big ? Self.g4x3 : Self.g2x3
    }

    /// Where the 16 output channels from `block` * 16 of tile (uh, uw), input channel c start.
    func offset(uh: Int, uw: Int, c: Int, block: Int) -> Int {
        let a = alpha, ob = Self.ocBlock
        switch format {
        case dnnl_wino_wei_aaOio:
            return (((uh * a + uw) * (oc / ob) + block) * ic + c) * ob
        case dnnl_wino_wei_aaOBiOo:
            let (occ, ob2) = (block / oc2Block, block % oc2Block)
            let (ib, i) = (c / icBlock, c % icBlock)
            return ((((uh * a + uw) * (oc / ob / oc2Block) + occ) * (ic / icBlock) + ib) * icBlock + i) * oc2Block * ob + ob2 * ob
        default:  // OBaaIBOIio
            let (occ, ob2) = (block / oc2Block, block % oc2Block)
            let (icc, r) = (c / (icBlock * ic2Block), c % (icBlock * ic2Block))
            let (ib, i) = (r / icBlock, r % icBlock)
            let icChunks = ic / (icBlock * ic2Block)
            return ((((((occ * a + uh) * a + uw) * icChunks + icc) * oc2Block + ob2) * ic2Block + ib) * icBlock + i) * ob
        }
    }

    /// Transforms OIHW weights (`outputs` x `inputs` x 3 x 3) into `out` (`oc` x `ic` x alpha²
    /// floats, every one written). One block of 16 output channels at a time, its input
    /// channels in order: the reads sweep 16 rows of the weights, the writes each tile's run.
    func transform(oihw: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        let a = alpha, ob = Self.ocBlock
        let G = g.map { row in row.map { V(repeating: $0) } }
        // The 3x3 kernels of 16 output channels as 9 vectors (tap-major), zero past the real channels.
        let taps = UnsafeMutablePointer<Float>.allocate(capacity: 9 * ob)
        let gGt = UnsafeMutablePointer<V>.allocate(capacity: 3 * a)
        defer { taps.deallocate(); gGt.deallocate() }
        for block in 0..<(oc / ob) {
            let o0 = block * ob, lanes = max(0, min(ob, outputs - o0))
            for c in 0..<ic {
                let live = c < inputs ? lanes : 0
                if live < ob { taps.initialize(repeating: 0, count: 9 * ob) }
                for l in 0..<live {
                    let kernel = oihw + ((o0 + l) * inputs + c) * 9
                    for t in 0..<9 { taps[t * ob + l] = kernel[t] }
                }
                func k(_ t: Int) -> V { UnsafeRawPointer(taps + t * ob).load(as: V.self) }
                // g Gᵀ (3 x alpha), then G (g Gᵀ) (alpha x alpha), summed in oneDNN's order.
                for y in 0..<3 {
                    let (k0, k1, k2) = (k(y * 3), k(y * 3 + 1), k(y * 3 + 2))
                    for j in 0..<a { gGt[y * a + j] = k0 * G[j][0] + k1 * G[j][1] + k2 * G[j][2] }
                }
                for uh in 0..<a {
                    let (g0, g1, g2) = (G[uh][0], G[uh][1], G[uh][2])
                    for uw in 0..<a {
                        let u = g0 * gGt[uw] + g1 * gGt[a + uw] + g2 * gGt[2 * a + uw]
                        UnsafeMutableRawPointer(out + offset(uh: uh, uw: uw, c: c, block: block)).storeBytes(of: u, as: V.self)
                    }
                }
            }
        }
    }
}

import DNN

/// HRNet-OCR's head (the official HRNet-Semantic-Segmentation `seg_hrnet_ocr`, after Yuan et
/// al., "Object-Contextual Representations for Semantic Segmentation"), with its key names:
/// - the stage-4 streams upsampled (bilinear) to the highest and concatenated, as HRNetV2;
/// - `aux_head`: conv1x1 (bias) + BN + ReLU + conv1x1 to the classes: the soft object regions,
///   also the auxiliary output;
/// - `conv3x3_ocr`: conv3x3 (bias) + BN + ReLU to MID_CHANNELS: the pixel representations;
/// - `ocr_gather_head`: each region's soft-maxed map weights the pixels into its centre;
/// - `ocr_distri_head`: the object attention block (pixels query the centres: `f_pixel`,
///   `f_object`, `f_down` projections, `f_up` back), the context concatenated with the pixels,
///   conv1x1 + BN + ReLU (`conv_bn_dropout`), Dropout2d in training;
/// - `cls_head`: conv1x1 (bias) to the classes.
/// Returns [aux, main], the official forward's order (TEST.OUTPUT_INDEX picks one).
enum OCRHead {
    static func build(_ g: Graph, streams: [Graph.Value], classes: Int, spec: OCRSpec, alignCorners: Bool) -> [Graph.Value] {
        let high = streams[0]
        let all = [high] + streams.dropFirst().map { g.resize($0, like: high, mode: .bilinear(alignCorners: alignCorners)) }
        let feats = all.count == 1 ? high : g.concat(all)
        let width = g.channels(of: feats)
        /// conv (no bias unless `bias`) + BN + ReLU; the official BNReLU nests its BN at `<bn>`.
        func convBNReLU(_ x: Graph.Value, _ conv: String, _ bn: String, _ out: Int, kernel: Int = 1, bias: Bool = false) -> Graph.Value {
            g.relu(g.batchNorm(g.conv(x, key: conv, outChannels: out, kernel: kernel, bias: bias), key: bn))
        }

        // Soft object regions.
        let regions = g.conv(convBNReLU(feats, "aux_head.0", "aux_head.1", width, bias: true), key: "aux_head.3",
                             outChannels: classes, kernel: 1, bias: true)
        // Pixel representations, and each region's centre in their space.
        let pixels = convBNReLU(feats, "conv3x3_ocr.0", "conv3x3_ocr.1", spec.midChannels, kernel: 3, bias: true)
        let centres = g.spatialGather(pixels, probs: regions)

        // Object contextual representations: every pixel attends over the centres.
        let block = "ocr_distri_head.object_context_block"
        let k = spec.keyChannels
        let query = convBNReLU(convBNReLU(pixels, "\(block).f_pixel.0", "\(block).f_pixel.1.0", k),
                               "\(block).f_pixel.2", "\(block).f_pixel.3.0", k)
        let key = convBNReLU(convBNReLU(centres, "\(block).f_object.0", "\(block).f_object.1.0", k),
                             "\(block).f_object.2", "\(block).f_object.3.0", k)
        let value = convBNReLU(centres, "\(block).f_down.0", "\(block).f_down.1.0", k)
        let attended = g.objectAttention(query: query, key: key, value: value, scale: 1 / Float(k).squareRoot())
        let context = convBNReLU(attended, "\(block).f_up.0", "\(block).f_up.1.0", spec.midChannels)

        // Augmented representations: the context beside the pixels, fused, then classified.
        var augmented = convBNReLU(g.concat([context, pixels]), "ocr_distri_head.conv_bn_dropout.0",
                                   "ocr_distri_head.conv_bn_dropout.1.0", spec.midChannels)
        if spec.dropout > 0 { augmented = g.channelDropout(augmented, probability: spec.dropout) }
        let main = g.conv(augmented, key: "cls_head", outChannels: classes, kernel: 1, bias: true)
        return [regions, main]
    }
}

import Foundation

/// The EXIF Orientation tag (0x0112): how the stored pixels must be turned to display upright.
/// Values follow the EXIF 2.3 specification, section 4.6.4 (TIFF tag 274).
public enum EXIFOrientation: Int, Sendable {
    case up = 1, upMirrored, down, downMirrored, leftMirrored, right, rightMirrored, left

    /// The orientation in a JPEG's first APP1 "Exif" segment; `.up` when absent or unreadable
    /// (a damaged EXIF block never fails the decode, as with OpenCV and PIL).
    public static func read(fromJPEG data: Data) -> EXIFOrientation {
        let bytes = [UInt8](data.prefix(1 << 20))  // metadata sits before the first scan
        var i = 2
        while i + 4 <= bytes.count {
            guard bytes[i] == 0xFF else { return .up }
            let marker = bytes[i + 1]
            if marker == 0xFF { i += 1; continue }                       // fill byte
            if marker == 0xD9 || marker == 0xDA { return .up }            // EOI / start of scan
            if marker == 0x01 || (0xD0...0xD7).contains(marker) { i += 2; continue }
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            guard length >= 2, i + 2 + length <= bytes.count else { return .up }
            let start = i + 4, end = i + 2 + length
            if marker == 0xE1, end - start >= 6, Array(bytes[start..<start + 6]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return parseTIFF(bytes, from: start + 6, to: end) ?? .up
            }
            i = end
        }
        return .up
    }

    /// Reads IFD0 of the TIFF structure inside the Exif segment, bounds-checked.
    private static func parseTIFF(_ b: [UInt8], from base: Int, to end: Int) -> EXIFOrientation? {
        guard end - base >= 8 else { return nil }
        let little: Bool
        switch (b[base], b[base + 1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ o: Int) -> Int? {
            guard o >= base, o + 2 <= end else { return nil }
            return little ? Int(b[o]) | Int(b[o + 1]) << 8 : Int(b[o]) << 8 | Int(b[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let lo = u16(little ? o : o + 2), let hi = u16(little ? o + 2 : o) else { return nil }
            return hi << 16 | lo
        }
        guard u16(base + 2) == 42, let ifd = u32(base + 4), let count = u16(base + ifd) else { return nil }
        for k in 0..<count {
            let entry = base + ifd + 2 + 12 * k
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112 {
                guard u16(entry + 2) == 3, let value = u16(entry + 8) else { return nil }
                return EXIFOrientation(rawValue: value)
            }
        }
        return nil
    }
}

extension Image {
    /// The image turned upright for the given EXIF orientation (orientations 5-8 swap width
    /// and height).
    /// - Complexity: O(width * height).
    public func applying(_ orientation: EXIFOrientation) -> Image {
        if orientation == .up { return self }
        let w = width, h = height
        let swaps = orientation.rawValue >= 5
        let ow = swaps ? h : w, oh = swaps ? w : h
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let sx: Int, sy: Int
                        switch orientation {
                        case .up: (sx, sy) = (ox, oy)
                        case .upMirrored: (sx, sy) = (w - 1 - ox, oy)
                        case .down: (sx, sy) = (w - 1 - ox, h - 1 - oy)
                        case .downMirrored: (sx, sy) = (ox, h - 1 - oy)
                        case .leftMirrored: (sx, sy) = (oy, ox)                   // transpose
                        case .right: (sx, sy) = (oy, h - 1 - ox)                  // rotate 90 clockwise
                        case .rightMirrored: (sx, sy) = (w - 1 - oy, h - 1 - ox)  // transverse
                        case .left: (sx, sy) = (w - 1 - oy, ox)                   // rotate 90 counter-clockwise
                        }
                        let s = (sy * w + sx) * 3, d = (oy * ow + ox) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return Image(uncheckedWidth: ow, height: oh, pixels: out)
    }
}

import CImageShim
import Foundation

/// An 8-bit single-channel image, row-major: a label map (one class id per pixel) or a mask.
///
/// PNG only, read and written without value conversion: a grayscale PNG gives its stored
/// values and a palette PNG its palette indices, as PIL's `np.array(Image.open(path))` and
/// `cv2.imread(path, IMREAD_GRAYSCALE)` give them for the label files of Cityscapes
/// (8-bit gray `*_labelIds.png`) and PASCAL-Context (palette or gray PNGs).
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height` samples.
    public var pixels: [UInt8]

    /// Wraps existing samples; throws if the count is not `width * height` or the area is 0.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else {
            throw ImageError(.empty, file: "<memory>", "image size \(width) x \(height) has no pixels")
        }
        let (area, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels.count == area else {
            throw ImageError(.invalidArgument, file: "<memory>",
                             "\(pixels.count) samples do not make a \(width) x \(height) single-channel image")
        }
        (self.width, self.height, self.pixels) = (width, height, pixels)
    }

    /// A solid image; sizes below 1 are raised to 1.
    public init(width: Int, height: Int, fill: UInt8) {
        self.width = max(1, width)
        self.height = max(1, height)
        self.pixels = [UInt8](repeating: fill, count: self.width * self.height)
    }

    /// Reads a label PNG (8-bit grayscale or palette; RGB, alpha and 16-bit are refused with a
    /// message naming the file and its colour type).
    public static func loadPNG(_ url: URL, maxPixels: Int = Image.defaultMaxPixels) throws -> GrayImage {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw ImageError(.io, file: url.path, "cannot read the file (\(error.localizedDescription))")
        }
        return try decodePNG(data, name: url.path, maxPixels: maxPixels)
    }

    /// Decodes label PNG bytes; `name` appears in errors.
    public static func decodePNG(_ data: Data, name: String = "<memory>", maxPixels: Int = Image.defaultMaxPixels) throws -> GrayImage {
        guard !data.isEmpty else { throw ImageError(.corrupt, file: name, "the file is empty") }
        guard ImageFormat.sniff(data) == .png else {
            throw ImageError(.unknownFormat, file: name, "a label map must be a PNG file (JPEG would blur the class ids)")
        }
        let limit = Int64(max(0, maxPixels))
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> GrayImage in
            let base = raw.bindMemory(to: UInt8.self).baseAddress!
            var info = hr_info()
            try Image.check(hr_png_info(base, raw.count, limit, &info), &info.message, file: name, format: .png)
            let width = Int(info.width), height = Int(info.height)
            let count = width * height
            var status: Int32 = 0
            let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                status = hr_png_decode_index(base, raw.count, limit, buffer.baseAddress, count, &info)
                initialized = count  // UInt8 is trivial; on failure the array is discarded
            }
            if status == Int32(HR_BAD_ARGUMENT.rawValue) {
                throw ImageError(.invalidArgument, file: name, Image.messageString(&info.message))
            }
            try Image.check(status, &info.message, file: name, format: .png)
            return GrayImage(uncheckedWidth: width, height: height, pixels: pixels)
        }
    }

    init(uncheckedWidth width: Int, height: Int, pixels: [UInt8]) {
        (self.width, self.height, self.pixels) = (width, height, pixels)
    }

    /// 8-bit grayscale PNG bytes.
    public func pngData() throws -> Data {
        guard width <= Int(Int32.max), height <= Int(Int32.max), pixels.count == width * height else {
            throw ImageError(.invalidArgument, file: "<memory>", "cannot encode a \(width) x \(height) map with \(pixels.count) samples as PNG")
        }
        var buffer = hr_buffer()
        let status = pixels.withUnsafeBufferPointer { hr_png_encode_gray($0.baseAddress, Int32(width), Int32(height), &buffer) }
        return try Image.take(&buffer, status: status, format: "PNG")
    }

    /// Writes an 8-bit grayscale PNG atomically (temporary file, then rename).
    public func writePNG(to url: URL) throws {
        let data: Data
        do { data = try pngData() } catch let error as ImageError { throw ImageError(error.kind, file: url.path, error.message) }
        try Image.writeAtomically(data, to: url)
    }
}

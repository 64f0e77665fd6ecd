import CImageShim
import FileSupport
import Foundation

/// The container formats Imaging reads and writes, recognised by their magic bytes.
public enum ImageFormat: String, Sendable {
    case jpeg, png

    /// JPEG starts FF D8 FF; PNG with its 8-byte signature 89 'PNG' 0D 0A 1A 0A.
    public static func sniff(_ data: Data) -> ImageFormat? {
        let head = [UInt8](data.prefix(8))
        if head.count >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF { return .jpeg }
        if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }

    /// From a file extension (.jpg, .jpeg, .png; any case).
    public init?(pathExtension: String) {
        switch pathExtension.lowercased() {
        case "jpg", "jpeg": self = .jpeg
        case "png": self = .png
        default: return nil
        }
    }
}

extension Image {
    /// Reads and decodes a JPEG or PNG file, chosen by content, not by extension.
    /// JPEG EXIF orientation (1-8) is applied, as cv2.imread does by default; pass
    /// `applyOrientation: false` for the stored pixels (cv2.IMREAD_IGNORE_ORIENTATION, what the
    /// official pose code reads COCO with: annotations are in stored-pixel coordinates).
    public static func load(_ url: URL, maxPixels: Int = Image.defaultMaxPixels, applyOrientation: Bool = true) throws -> Image {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw ImageError(.io, file: url.path, "cannot read the file (\(error.localizedDescription))")
        }
        return try decode(data, name: url.path, maxPixels: maxPixels, applyOrientation: applyOrientation)
    }

    /// Decodes JPEG or PNG bytes (format by magic bytes). `name` appears in errors.
    /// Decoded samples equal libjpeg-turbo's / libpng's own output exactly (see the C shim for
    /// the conversions to RGB).
    public static func decode(_ data: Data, name: String = "<memory>", maxPixels: Int = Image.defaultMaxPixels,
                              applyOrientation: Bool = true) throws -> Image {
        guard !data.isEmpty else { throw ImageError(.corrupt, file: name, "the file is empty") }
        guard let format = ImageFormat.sniff(data) else {
            throw ImageError(.unknownFormat, file: name, "not a JPEG or PNG file (unrecognised magic bytes)")
        }
        let limit = Int64(max(0, maxPixels))
        let image = try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Image in
            let base = raw.bindMemory(to: UInt8.self).baseAddress!
            var info = hr_info()
            let headerStatus = format == .jpeg
                ? hr_jpeg_info(base, raw.count, limit, &info)
                : hr_png_info(base, raw.count, limit, &info)
            try check(headerStatus, &info.message, file: name, format: format)
            let width = Int(info.width), height = Int(info.height)
            let (pixelCount, overflow) = width.multipliedReportingOverflow(by: height)
            guard !overflow, width > 0, height > 0, pixelCount <= Int(limit) else {
                throw ImageError(.tooLarge, file: name, "the header declares \(width) x \(height) pixels, above the limit of \(limit)")
            }
            let count = pixelCount * 3
            var status: Int32 = 0
            let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                status = format == .jpeg
                    ? hr_jpeg_decode(base, raw.count, limit, buffer.baseAddress, count, &info)
                    : hr_png_decode(base, raw.count, limit, buffer.baseAddress, count, &info)
                initialized = count  // UInt8 is trivial; on failure the array is discarded
            }
            try check(status, &info.message, file: name, format: format)
            return Image(uncheckedWidth: width, height: height, pixels: pixels)
        }
        if format == .jpeg && applyOrientation {
            let orientation = EXIFOrientation.read(fromJPEG: data)
            return image.applying(orientation)
        }
        return image
    }

    /// JPEG bytes: baseline, 4:2:0, integer DCT; quality 1...100.
    public func jpegData(quality: Int = 90) throws -> Data {
        guard (1...100).contains(quality) else {
            throw ImageError(.invalidArgument, file: "<memory>", "JPEG quality \(quality) is outside 1...100")
        }
        try checkEncodable(limit: 65500, format: "JPEG")
        var buffer = hr_buffer()
        let status = pixels.withUnsafeBufferPointer {
            hr_jpeg_encode($0.baseAddress, Int32(width), Int32(height), Int32(quality), &buffer)
        }
        return try Image.take(&buffer, status: status, format: "JPEG")
    }

    /// PNG bytes: 8-bit RGB, not interlaced.
    public func pngData() throws -> Data {
        try checkEncodable(limit: Int(Int32.max), format: "PNG")
        var buffer = hr_buffer()
        let status = pixels.withUnsafeBufferPointer {
            hr_png_encode($0.baseAddress, Int32(width), Int32(height), &buffer)
        }
        return try Image.take(&buffer, status: status, format: "PNG")
    }

    /// Encodes by the file extension (.jpg, .jpeg or .png) and writes atomically: the bytes go
    /// to a temporary file in the same directory, which is then renamed over `url`, so readers
    /// never see a half-written image. `quality` applies to JPEG only.
    public func write(to url: URL, quality: Int = 90) throws {
        guard let format = ImageFormat(pathExtension: url.pathExtension) else {
            throw ImageError(.invalidArgument, file: url.path,
                             "unknown image extension '.\(url.pathExtension)' (use .jpg, .jpeg or .png)")
        }
        let data: Data
        do {
            data = format == .jpeg ? try jpegData(quality: quality) : try pngData()
        } catch let error as ImageError {
            throw ImageError(error.kind, file: url.path, error.message)
        }
        try Image.writeAtomically(data, to: url)
    }

    /// `writeAtomically` (FileSupport) for pictures: a failure is an `ImageError` naming the file.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        do { try FileSupport.writeAtomically(data, to: url) } catch let error as FileWriteError {
            throw ImageError(.io, file: url.path, "cannot write (\(error.reason))")
        }
    }

    private func checkEncodable(limit: Int, format: String) throws {
        guard width <= limit, height <= limit, pixels.count == width * height * 3 else {
            throw ImageError(.invalidArgument, file: "<memory>",
                             "cannot encode a \(width) x \(height) image with \(pixels.count) samples as \(format)")
        }
    }

    static func take(_ buffer: inout hr_buffer, status: Int32, format: String) throws -> Data {
        guard status == Int32(HR_OK.rawValue), let bytes = buffer.data else {
            let message = messageString(&buffer.message)
            throw ImageError(.invalidArgument, file: "<memory>", "\(format) encoding failed: \(message)")
        }
        defer { hr_free(bytes) }
        return Data(bytes: bytes, count: buffer.size)
    }

    static func check<T>(_ status: Int32, _ message: inout T, file: String, format: ImageFormat) throws {
        if status == Int32(HR_OK.rawValue) { return }
        let text = messageString(&message)
        let what = format == .jpeg ? "JPEG" : "PNG"
        switch UInt32(bitPattern: status) {
        case HR_TOO_LARGE.rawValue: throw ImageError(.tooLarge, file: file, "\(what): \(text)")
        case HR_EMPTY.rawValue: throw ImageError(.empty, file: file, "\(what): \(text)")
        case HR_NO_MEMORY.rawValue: throw ImageError(.corrupt, file: file, "\(what): out of memory (\(text))")
        default: throw ImageError(.corrupt, file: file, "corrupt \(what): \(text)")
        }
    }

    /// The NUL-terminated message a C call left in a fixed char array.
    static func messageString<T>(_ tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }
}

import CZlib

/// zlib streams (RFC 1950), as MAT-files' miCOMPRESSED elements hold them (MATLAB's `save -v7`
/// and scipy's `savemat(do_compression=True)` both write `compress()` output).
enum Inflate {
    enum Failure: Error {
        /// The output would pass `limit` bytes.
        case tooLarge(limit: Int)
        /// The input ended before the stream did.
        case truncated
        /// zlib refused the data (its message).
        case corrupt(String)
    }

    /// Inflates the zlib stream at the start of `input`, stopping at its end; bytes after the
    /// end are not read.
    /// - Returns: the inflated bytes and how many input bytes the stream took.
    /// - Complexity: O(input + output); never allocates more than `limit` bytes of output.
    static func zlib(_ input: ArraySlice<UInt8>, limit: Int) throws(Failure) -> (output: [UInt8], consumed: Int) {
        var stream = z_stream()
        guard czlib_inflate_init(&stream) == Z_OK else { throw .corrupt("inflateInit failed") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: chunk)
        var consumed = 0
        let result: Result<Void, Failure> = input.withUnsafeBufferPointer { source in
            let base = UnsafeMutablePointer(mutating: source.baseAddress)
            while true {
                if stream.avail_in == 0, consumed < source.count, let base {
                    let n = min(source.count - consumed, Int(UInt32.max))
                    stream.next_in = base + consumed
                    stream.avail_in = UInt32(n)
                    consumed += n
                }
                let before = Int(stream.avail_in)
                let (status, produced) = buffer.withUnsafeMutableBufferPointer { out -> (Int32, Int) in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    return (status, out.count - Int(stream.avail_out))
                }
                if produced > 0 {
                    guard output.count + produced <= limit else { return .failure(.tooLarge(limit: limit)) }
                    output.append(contentsOf: buffer[0..<produced])
                }
                switch status {
                case Z_STREAM_END:
                    consumed -= Int(stream.avail_in)
                    return .success(())
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible: out of input (the output buffer is always emptied).
                    if stream.avail_in == 0 && consumed >= source.count { return .failure(.truncated) }
                    if produced == 0 && Int(stream.avail_in) == before { return .failure(.corrupt("no progress")) }
                case Z_NEED_DICT:
                    return .failure(.corrupt("the stream needs a preset dictionary"))
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    return .failure(.corrupt(message))
                }
            }
        }
        if case .failure(let failure) = result { throw failure }
        return (output, consumed)
    }
}

// Fixed-width integers in the byte orders of the containers FFGlue edits (PNG and JPEG are
// big-endian, TIFF as written here and RIFF/WebP little-endian). Readers take the position of
// the first byte and return nil when the bytes are not all there, so that no length read from
// a file can send them out of bounds.

func bigEndianBytes(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }
func bigEndianBytes(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(truncatingIfNeeded: value)] }
func littleEndianBytes(_ value: UInt32) -> [UInt8] { [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: value >> $0) } }
func littleEndianBytes(_ value: UInt16) -> [UInt8] { [UInt8(truncatingIfNeeded: value), UInt8(value >> 8)] }

extension Collection where Element == UInt8, Index == Int {
    /// `count` bytes from `offset` as a big-endian number, or nil past the end.
    func bigEndian(at offset: Int, count: Int) -> UInt32? {
        guard offset >= startIndex, count <= 4, offset <= endIndex - count else { return nil }
        return (offset..<offset + count).reduce(0) { $0 << 8 | UInt32(self[$1]) }
    }

    /// `count` bytes from `offset` as a little-endian number, or nil past the end.
    func littleEndian(at offset: Int, count: Int) -> UInt32? {
        guard offset >= startIndex, count <= 4, offset <= endIndex - count else { return nil }
        return (offset..<offset + count).reversed().reduce(0) { $0 << 8 | UInt32(self[$1]) }
    }

    /// True when the bytes from `offset` are `expected`.
    func matches(_ expected: [UInt8], at offset: Int) -> Bool {
        guard offset >= startIndex, offset <= endIndex - expected.count else { return false }
        return expected.indices.allSatisfy { self[offset + $0] == expected[$0] }
    }
}

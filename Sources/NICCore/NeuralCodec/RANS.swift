/// Range asymmetric numeral systems (rANS) with a 32-bit state, byte-wise renormalisation and
/// 16-bit probabilities. All arithmetic is on integers, so a stream decodes identically on every
/// machine. Values outside a table's range are sent as its escape symbol followed by a bypass
/// code (`BypassCode`), coded in the same stream with uniform 4-bit symbols.
enum RANS {
    static let lowerBound: UInt32 = 1 << 23  // state stays in [lowerBound, lowerBound << 8)
    static let probBits: UInt32 = 16
}

/// Collects symbols in coding order and writes the stream in reverse at the end (rANS is LIFO).
struct RANSEncoder {
    private var intervals: [(start: UInt32, freq: UInt32)] = []

    /// Adds `value` under table `table` of `tables` (escape + bypass when out of range).
    mutating func encode(_ value: Int32, table: Int, of tables: CDFTables) {
        let n = tables.inRange(table)
        let index = Int(value) - Int(tables.symbolMin[table])
        if index >= 0 && index < n {
            intervals.append(tables.interval(table, index))
        } else {
            intervals.append(tables.interval(table, n))
            for nibble in BypassCode.nibbles(distance: index < 0 ? index : index - n) {
                intervals.append((UInt32(nibble) << 12, 1 << 12))
            }
        }
    }

    /// The coded bytes.
    func finish() -> [UInt8] {
        var state = RANS.lowerBound
        var reversed: [UInt8] = []
        reversed.reserveCapacity(intervals.count / 2 + 8)
        for (start, freq) in intervals.reversed() {
            let limit = ((RANS.lowerBound >> RANS.probBits) << 8) * freq
            while state >= limit {
                reversed.append(UInt8(truncatingIfNeeded: state))
                state >>= 8
            }
            state = ((state / freq) << RANS.probBits) + state % freq + start
        }
        for _ in 0..<4 {
            reversed.append(UInt8(truncatingIfNeeded: state))
            state >>= 8
        }
        return reversed.reversed()
    }
}

/// Reads symbols back in coding order. Reading past the end yields zero bytes and marks the
/// stream as overrun, so corrupt input ends in a checked error, never an out-of-bounds read.
struct RANSDecoder {
    private let bytes: [UInt8]
    private var position = 0
    private var state: UInt32 = 0
    private(set) var overrun = false

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        for _ in 0..<4 { state = state << 8 | UInt32(nextByte()) }
    }

    private mutating func nextByte() -> UInt8 {
        guard position < bytes.count else { overrun = true; return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func advance(start: UInt32, freq: UInt32) {
        state = freq &* (state >> RANS.probBits) &+ (state & 0xFFFF) &- start
        while state < RANS.lowerBound && !overrun { state = state << 8 | UInt32(nextByte()) }
    }

    /// The next value under table `table`.
    mutating func decode(table: Int, of tables: CDFTables) throws -> Int32 {
        let index = tables.symbol(table, slot: state & 0xFFFF)
        let interval = tables.interval(table, index)
        advance(start: interval.start, freq: interval.freq)
        let n = tables.inRange(table)
        guard index == n else { return tables.symbolMin[table] + Int32(index) }
        let distance = try BypassCode.distance { () -> UInt8 in
            let nibble = UInt8(truncatingIfNeeded: (state & 0xFFFF) >> 12)
            advance(start: UInt32(nibble) << 12, freq: 1 << 12)
            return nibble
        }
        let value = Int(tables.symbolMin[table]) + (distance < 0 ? distance : distance + n)
        guard let result = Int32(exactly: value) else { throw NICError.corruptData("escaped symbol out of range") }
        return result
    }

    /// True when the decoder consumed exactly the stream it was given (a final consistency check).
    var isExhausted: Bool { !overrun && position == bytes.count && state == RANS.lowerBound }
}

/// The bypass code of an escaped value: its signed distance from the table's range
/// (d < 0 below, d >= 0 above) mapped to unsigned u = 2|d| - 1 (below) or 2d (above), then
/// a 4-bit nibble count (1...8, stored minus one) and the nibbles, least significant first.
enum BypassCode {
    static func nibbles(distance d: Int) -> [UInt8] {
        var u = UInt32(d < 0 ? 2 * (-d) - 1 : 2 * d)
        var digits: [UInt8] = []
        repeat { digits.append(UInt8(u & 15)); u >>= 4 } while u != 0
        return [UInt8(digits.count - 1)] + digits
    }

    static func distance(reading next: () throws -> UInt8) throws -> Int {
        let count = Int(try next()) + 1
        guard count <= 8 else { throw NICError.corruptData("bypass code longer than 32 bits") }
        var u: UInt64 = 0
        for i in 0..<count { u |= UInt64(try next()) << (4 * UInt64(i)) }
        guard u < 1 << 31 else { throw NICError.corruptData("bypass value out of range") }
        return u & 1 == 1 ? -Int((u + 1) / 2) : Int(u / 2)
    }
}

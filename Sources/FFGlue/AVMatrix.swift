import CFFmpeg

/// A copy of `table` in av_malloc'd memory, as AVCodecContext's matrix fields require.
func avMatrix(_ table: [UInt16]) -> UnsafeMutablePointer<UInt16>? {
    guard let memory = av_malloc(table.count * MemoryLayout<UInt16>.stride) else { return nil }
    let matrix = memory.bindMemory(to: UInt16.self, capacity: table.count)
    matrix.update(from: table, count: table.count)
    return matrix
}

import CNicAPI
import FFGlue
import NICCore

// nic_upscale_frame / nic_frame_reset: the player path on decoded AVFrames. nic.h declares
// AVFrame incompletely, so the frames arrive here as opaque pointers for FFGlue.

@_cdecl("nic_frame_info_init")
public func nic_frame_info_init(_ info: UnsafeMutablePointer<NicFrameInfo>?) {
    guard let info else { return }
    info.pointee = NicFrameInfo()
    info.pointee.struct_size = MemoryLayout<NicFrameInfo>.size
}

@_cdecl("nic_upscale_frame")
public func nic_upscale_frame(
    _ context: OpaquePointer?, _ input: OpaquePointer?, _ output: OpaquePointer?,
    _ info: UnsafeMutablePointer<NicFrameInfo>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let input, let output else { throw BoundaryError.nullPointer("input or output frame is NULL") }
        if let info { try ImageBridge.checkSize(info.pointee.struct_size, MemoryLayout<NicFrameInfo>.size, "NicFrameInfo") }
        let result = try ctx.frameUpscaler().upscale(opaqueInput: input, opaqueOutput: output)
        let plan = result.plan
        var settingID = 0
        if case .network(let id) = plan.route { settingID = id }
        ctx.setLastUpscale(settingID: settingID, usedAIData: plan.fallbackReason == nil, reason: plan.fallbackReason)
        if let reason = plan.fallbackReason { ctx.log(NIC_LOG_DEBUG, "frame upscale fallback: \(reason)") }
        guard let info else { return }
        info.pointee.setting_id = Int32(settingID)
        info.pointee.used_aidata = plan.fallbackReason == nil ? 1 : 0
        switch result.frameAIData {
        case .none: info.pointee.frame_aidata = NIC_AIDATA_ABSENT
        case .record: info.pointee.frame_aidata = NIC_AIDATA_PRESENT
        case .corrupt: info.pointee.frame_aidata = NIC_AIDATA_CORRUPT
        }
        info.pointee.has_aidata = result.record == nil ? 0 : 1
        info.pointee.aidata = result.record.map(NicAIData.init) ?? NicAIData()
        info.pointee.width = Int32(plan.width)
        info.pointee.height = Int32(plan.height)
        info.pointee.fallback_reason = ctx.lastUpscale.reason.map { UnsafePointer($0) }
    }
}

@_cdecl("nic_frame_reset")
public func nic_frame_reset(_ context: OpaquePointer?) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run { ctx.resetFrames() }
}

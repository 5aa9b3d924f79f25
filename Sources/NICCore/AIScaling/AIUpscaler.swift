/// Carries out an AIDecodePlan: the chosen network or classic filter, to the plan's size.
public enum AIUpscaler {
    /// Upscales `image` by `plan`. A network that cannot be loaded (missing or damaged model
    /// file) must not stop playback: the plan then falls back to Lanczos, and the returned
    /// plan says why.
    public static func upscale(
        _ image: PlanarImage, plan: AIDecodePlan, store: ModelStore?,
        device: ComputeDevice
    ) throws -> (image: PlanarImage, plan: AIDecodePlan) {
        let carried = try plan.carriedOut { try run(image, plan: $0, store: store, device: device) }
        return (carried.result, carried.plan)
    }

    static func run(_ image: PlanarImage, plan: AIDecodePlan, store: ModelStore?, device: ComputeDevice) throws -> PlanarImage {
        switch plan.route {
        case .unscaled:
            return image
        case .classic(let method):
            return try ImageResize.resized(
                image, width: plan.width, height: plan.height, method: method,
                workers: device.workers)
        case .liff:
            guard let store else { throw NICError.model("no model directory for the LIFF up-scaler") }
            return try store.liffNetwork().upscale(image, width: plan.width, height: plan.height, device: device)
        case .network(let id):
            guard let store else { throw NICError.model("no model directory for setting \(id)") }
            let setting = try store.setting(id: id)
            let chroma = try setting.chromaNetwork(after: plan.smallImageCodec).map(store.chromaNetwork)
            return try AIScaler.scale(
                image, with: try store.network(setting, .up), chroma: chroma,
                width: plan.width, height: plan.height, device: device)
        }
    }
}

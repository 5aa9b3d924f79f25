/// How a setting makes the small image on the server side. A joint setting runs its down
/// network. A generic setting's up network was trained on classic antialiased bicubic
/// reductions, so choosing it for a strongly compressed image (where the down network's extra
/// detail no longer survives the codec) means reducing with that same filter.
public enum Downscaler {
    case network(ScalerNetwork)
    case classic(numerator: Int, denominator: Int)

    /// The downscaler of `setting`: its down network, or the classic reduction for a generic one.
    public init(_ setting: NNSetting, store: ModelStore) throws {
        switch setting.kind {
        case .joint: self = .network(try store.network(setting, .down))
        case .generic: self = .classic(numerator: setting.scaleNumerator, denominator: setting.scaleDenominator)
        case .restoration:
            throw NICError.invalidArgument("setting \(setting.id) restores full-resolution pictures; it does not downscale")
        }
    }

    /// Small-image size along one axis for an original of `size` pixels (rounded to nearest).
    public func outputLength(_ size: Int) -> Int {
        switch self {
        case .network(let network): return network.outputLength(size)
        case .classic(let num, let den): return max(1, (size * den + num / 2) / num)
        }
    }

    /// `image` reduced to `width` x `height`.
    public func scale(_ image: PlanarImage, width: Int, height: Int, device: ComputeDevice) throws -> PlanarImage {
        switch self {
        case .network(let network):
            return try AIScaler.scale(image, with: network, width: width, height: height, device: device)
        case .classic:  // antialiased bicubic a = -0.5, as in the generic networks' training
            return try ImageResize.resized(image, width: width, height: height, method: .bicubic, workers: device.workers)
        }
    }
}

/// One step of a network: a tensor in, a tensor out, on a given device.
/// Layers hold only read-only weights, so one loaded model serves many contexts.
public protocol Layer: AnyObject {
    func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor
}

/// Activations that convolutions can apply in the same pass (oneDNN post-ops).
public enum FusedActivation: Equatable, Sendable {
    case none
    case relu
    case leakyReLU(Float)
}

/// Layers applied one after the other.
public final class Sequential: Layer {
    public let layers: [Layer]
    public init(_ layers: [Layer]) { self.layers = layers }

    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        try layers.reduce(x) { try $1.forward($0, on: device) }
    }
}

/// Checks a layer's input shape and throws a message naming the layer otherwise.
func requireShape(_ x: Tensor, channels: Int, _ layer: String) throws {
    guard x.shape.count == 4, x.channels == channels else {
        throw NICError.invalidArgument("\(layer) expects \(channels) input channels, got tensor \(x.shape)")
    }
}

/// Checks that `weights` holds `count` values.
func requireCount(_ weights: [Float], _ count: Int, _ what: String) throws {
    guard weights.count == count else {
        throw NICError.model("\(what) has \(weights.count) values, expected \(count)")
    }
}

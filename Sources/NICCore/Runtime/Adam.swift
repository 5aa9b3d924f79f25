#if canImport(Glibc)
    import Glibc
#endif

/// Adam (Kingma & Ba) on a flat array of parameters: the encoder-side searches
/// (`SmallImageRefiner`, `LatentOptimisation`).
struct Adam {
    var learningRate: Float
    let beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    private var m: [Float], v: [Float], t = 0

    init(count: Int, learningRate: Float) {
        self.learningRate = learningRate
        m = [Float](repeating: 0, count: count); v = m
    }

    mutating func step(_ x: inout [Float], _ g: [Float]) {
        step(&x, g) { _ in 1 }
    }

    /// A step in which element i moves with the step size times `rates[i]` (0: it stays).
    mutating func step(_ x: inout [Float], _ g: [Float], scaledBy rates: [Float]) {
        step(&x, g) { rates[$0] }
    }

    private mutating func step(_ x: inout [Float], _ g: [Float], rate: (Int) -> Float) {
        t += 1
        let c1 = 1 - pow(beta1, Float(t)), c2 = 1 - pow(beta2, Float(t))
        for i in x.indices {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            x[i] -= learningRate * rate(i) * (m[i] / c1) / ((v[i] / c2).squareRoot() + epsilon)
        }
    }
}

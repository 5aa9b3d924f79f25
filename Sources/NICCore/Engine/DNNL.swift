import CDNNL

/// Thin helpers over oneDNN's C API: status checks and memory descriptors.
package enum DNNL {
    package static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws {
        guard status == dnnl_success else {
            if status == dnnl_out_of_memory { throw NICError.outOfMemory("oneDNN: out of memory in \(what())") }
            throw NICError.internal("oneDNN failed in \(what()) (status \(status.rawValue))")
        }
    }

    /// A float32 memory descriptor for dims with a oneDNN format tag (`dnnl_format_tag_any` for "backend's choice").
    static func desc(_ dims: [Int], tag: dnnl_format_tag_t, type: dnnl_data_type_t = dnnl_f32) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let d = dims.map(Int64.init)
        try check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, type, tag), "memory descriptor \(dims)")
        return md
    }

    static func plainTag(rank: Int) -> dnnl_format_tag_t {
        switch rank {
        case 1: return dnnl_a
        case 2: return dnnl_ab
        case 3: return dnnl_abc
        case 4: return dnnl_abcd
        default: return dnnl_abcde
        }
    }

    static func size(_ md: dnnl_memory_desc_t) -> Int {
        var m = md
        return dnnl_memory_desc_get_size(&m)
    }

    static func equal(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
        var x = a, y = b
        return dnnl_memory_desc_equal(&x, &y) != 0
    }

    /// A hashable fingerprint of a memory descriptor (dims plus its raw bytes).
    static func fingerprint(_ md: dnnl_memory_desc_t) -> [UInt8] {
        withUnsafeBytes(of: md) { Array($0) }
    }
}

/// Owns a oneDNN primitive descriptor and the primitive created from it.
final class Primitive {
    let descriptor: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t

    /// `attributes` defaults to none but a user-managed scratchpad (see PostOps); a backward
    /// primitive takes the forward primitive it belongs to as `hint`.
    init(opDesc: UnsafeRawPointer, attributes: PostOps? = nil, hint: Primitive? = nil, engine: dnnl_engine_t, what: String) throws {
        let attributes = try attributes ?? PostOps()
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(dnnl_primitive_desc_create(&pd, opDesc, attributes.attr, engine, hint?.descriptor), what)
        var p: dnnl_primitive_t?
        let status = dnnl_primitive_create(&p, pd)
        guard status == dnnl_success, let p else {
            dnnl_primitive_desc_destroy(pd)
            try DNNL.check(status, what)
            throw NICError.internal("oneDNN returned no primitive for \(what)")
        }
        descriptor = pd!
        primitive = p
    }

    /// A reorder; `scale` multiplies every value on the way (for quantisation).
    init(reorderFrom src: dnnl_memory_desc_t, to dst: dnnl_memory_desc_t, scale: Float = 1, engine: dnnl_engine_t) throws {
        var s = src, d = dst
        let attributes = try PostOps()
        if scale != 1 { try attributes.outputScales([scale], mask: 0) }
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(dnnl_reorder_primitive_desc_create(&pd, &s, engine, &d, engine, attributes.attr), "reorder")
        var p: dnnl_primitive_t?
        let status = dnnl_primitive_create(&p, pd)
        guard status == dnnl_success, let p else {
            dnnl_primitive_desc_destroy(pd)
            try DNNL.check(status, "reorder")
            throw NICError.internal("oneDNN returned no reorder primitive")
        }
        descriptor = pd!
        primitive = p
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    func md(_ query: dnnl_query_t, _ index: Int32 = 0) -> dnnl_memory_desc_t {
        dnnl_primitive_desc_query_md(descriptor, query, index).pointee
    }

    /// oneDNN's name for the implementation behind this primitive.
    var implementation: String {
        var info: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &info) == dnnl_success, let info else {
            return "unknown"
        }
        return String(cString: info)
    }

    /// Memory descriptor of an execution argument (DNNL_ARG_*).
    func md(arg: Int32) -> dnnl_memory_desc_t {
        dnnl_primitive_desc_query_md(descriptor, dnnl_query_exec_arg_md, arg).pointee
    }
}

/// RAII wrapper for primitive attributes with post-ops.
final class PostOps {
    let attr: dnnl_primitive_attr_t
    private let ops: dnnl_post_ops_t
    private(set) var count: Int32 = 0

    init() throws {
        var a: dnnl_primitive_attr_t?
        try DNNL.check(dnnl_primitive_attr_create(&a), "attributes")
        var o: dnnl_post_ops_t?
        try DNNL.check(dnnl_post_ops_create(&o), "post-ops")
        attr = a!; ops = o!
        // A scratchpad owned by the caller keeps primitives free of hidden global buffers.
        try DNNL.check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode")
    }

    deinit {
        dnnl_post_ops_destroy(ops)
        dnnl_primitive_attr_destroy(attr)
    }

    func eltwise(_ alg: dnnl_alg_kind_t, alpha: Float = 0, beta: Float = 0) throws {
        try DNNL.check(dnnl_post_ops_append_eltwise(ops, 1, alg, alpha, beta), "eltwise post-op")
        count += 1
    }

    func binary(_ alg: dnnl_alg_kind_t, _ src1: dnnl_memory_desc_t) throws {
        var md = src1
        try DNNL.check(dnnl_post_ops_append_binary(ops, alg, &md), "binary post-op")
        count += 1
    }

    /// Scales applied to the result before the post-ops: one for all (`mask` 0) or one per
    /// index of the dimensions `mask` selects (bit 1: output channels).
    func outputScales(_ scales: [Float], mask: Int32) throws {
        try DNNL.check(dnnl_primitive_attr_set_output_scales(attr, Int64(scales.count), mask, scales), "output scales")
    }

    /// Commits the post-op list to the attributes; call after appending.
    func commit() throws {
        try DNNL.check(dnnl_primitive_attr_set_post_ops(attr, ops), "set post-ops")
    }
}

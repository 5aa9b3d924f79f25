import CFFmpeg
import NICCore

/// Still-image file formats ImageFile writes (it reads anything FFmpeg decodes).
public enum ImageFileFormat: String, Sendable, CaseIterable {
    case png, jpeg, bmp, webp

    /// Format for a path's extension, case-insensitive: .png, .jpg/.jpeg, .bmp, .webp.
    public init?(path: String) {
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "png": self = .png
        case "jpg", "jpeg": self = .jpeg
        case "bmp": self = .bmp
        case "webp": self = .webp
        default: return nil
        }
    }

    /// Whether files of this format can carry metadata text (all but BMP).
    public var carriesMetadataText: Bool { self != .bmp }
}

/// A decoded picture and the metadata text its file carries.
public struct ImageFileContents: Sendable {
    public var image: PlanarImage
    /// The text `ImageFile.write(_:path:quality:metadataText:)` stored (printable ASCII,
    /// 1...`ImageFile.maxMetadataTextBytes` bytes); nil when the file carries none, or only
    /// damaged or invalid text. For JPEG and WebP this is the Exif image description, so files
    /// from other software may carry some text too: callers check its form themselves.
    public var metadataText: String?

    public init(image: PlanarImage, metadataText: String?) {
        self.image = image
        self.metadataText = metadataText
    }
}

/// The size a still image file's header declares and its metadata text, read from its bytes
/// without decoding the picture. Decoding is the judge: it may fail, and in a damaged file
/// (a JPEG whose segment lengths are wrong) find a picture of another size.
public struct ImageFileHeader: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var metadataText: String?
}

/// Reading and writing still images through FFmpeg.
///
/// Pixel conventions: rgb24 and gray8 are full range; yuv420p and yuv444p are BT.601
/// limited range. Reading never crashes, hangs or allocates without bound on bad input:
/// sizes are checked against `ImageLimits` before any pixel is decoded.
public enum ImageFile {
    /// Largest file `read(path:)` accepts: more than any image within ImageLimits needs.
    public static let maxFileBytes = 1 << 30
    /// JPEG quality used when `write`/`encode` get none.
    public static let defaultJPEGQuality = 90
    /// WebP quality used when `write`/`encode` get none.
    public static let defaultWebPQuality = 90
    /// Longest metadata text `write`/`encode` store.
    public static let maxMetadataTextBytes = MetadataText.maxBytes
    /// Largest width and height of a WebP picture (14-bit fields in the bitstream).
    public static let maxWebPDimension = 16383

    /// Decodes the first picture of any image file FFmpeg reads (PNG, JPEG, WebP, BMP, ...),
    /// converted to `format`; nil means gray8 for greyscale sources and rgb24 otherwise.
    /// Alpha is dropped. Errors: `.io` (cannot read the file), `.corruptData` (empty, truncated,
    /// damaged), `.dimensions`, `.unsupportedFormat` (no picture in it).
    public static func read(path: String, as format: PixelFormat? = nil) throws -> PlanarImage {
        try readWithMetadata(path: path, as: format).image
    }

    /// Like `read(path:as:)` for a file already in memory.
    public static func read(data: [UInt8], as format: PixelFormat? = nil) throws -> PlanarImage {
        try readWithMetadata(data: data, as: format).image
    }

    /// Like `read(path:as:)`, and also returns the file's metadata text (PNG tEXt `nic-aidata`,
    /// JPEG or WebP Exif image description). Missing, damaged or invalid text gives nil and
    /// never an error: the errors are those of `read(path:as:)`, about the picture only.
    public static func readWithMetadata(path: String, as format: PixelFormat? = nil) throws -> ImageFileContents {
        let bytes = try readFileBytes(path: path, limit: maxFileBytes)
        return try decode(bytes, name: "'\(path)'", as: format)
    }

    /// Like `readWithMetadata(path:as:)` for a file already in memory; `name` names it in errors.
    public static func readWithMetadata(
        data: [UInt8], as format: PixelFormat? = nil, name: String = "the image data"
    ) throws -> ImageFileContents {
        try decode(data, name: name, as: format)
    }

    /// What a file in memory declares before any pixel is decoded: the picture size in its
    /// header and its metadata text (see `ImageFileHeader`); nil when the size is not declared
    /// in a form read here (a damaged header, or another format: only decoding tells).
    public static func header(data: [UInt8]) -> ImageFileHeader? {
        guard let size = data.withUnsafeBytes(declaredImageSize) else { return nil }
        let text = withDecodingBytes(data) { _, text in text }
        return ImageFileHeader(width: size.width, height: size.height, metadataText: text)
    }

    /// `body` on the bytes FFmpeg is given for `data` (`ImageMetadata.repairedForDecoding`) and
    /// the metadata text read from those same bytes, so that the header and decoding always
    /// agree on the text.
    private static func withDecodingBytes<T>(
        _ data: [UInt8], _ body: (UnsafeRawBufferPointer, String?) throws -> T
    ) rethrows -> T {
        let repaired = data.withUnsafeBytes(ImageMetadata.repairedForDecoding)
        return try (repaired ?? data).withUnsafeBytes { raw in try body(raw, ImageMetadata.text(ofFile: raw)) }
    }

    /// Writes `image` in the format its extension names (see `ImageFileFormat`).
    /// `quality` (1...100, default 90) applies to JPEG and WebP. `metadataText` (printable
    /// ASCII, 1...1024 bytes) is stored in the file for `readWithMetadata` (PNG, JPEG, WebP).
    public static func write(
        _ image: PlanarImage, path: String, quality: Int? = nil,
        metadataText: String? = nil, inputs: [String] = []
    ) throws {
        guard let format = ImageFileFormat(path: path) else {
            throw NICError.invalidArgument(
                "cannot tell the image format of '\(path)'; supported extensions: .png, .jpg, .jpeg, .bmp, .webp")
        }
        try writeFileBytes(
            encode(image, format: format, quality: quality, metadataText: metadataText), path: path,
            inputs: inputs)
    }

    /// The bytes of `image` as a complete file of `format`, see `write(_:path:quality:metadataText:)`.
    /// Errors: `.invalidArgument` (quality, metadata text), `.unsupportedFormat` (metadata text
    /// in BMP), `.dimensions` (WebP over 16383 pixels wide or high).
    public static func encode(
        _ image: PlanarImage, format: ImageFileFormat, quality: Int? = nil,
        metadataText: String? = nil
    ) throws -> [UInt8] {
        if let quality, !(1...100).contains(quality) {
            throw NICError.invalidArgument("quality must be 1...100, got \(quality)")
        }
        let text = try metadataText.map(MetadataText.validated)
        if text != nil && !format.carriesMetadataText {
            throw NICError.unsupportedFormat("\(format) files cannot carry metadata text; use PNG, JPEG or WebP")
        }
        let file: [UInt8]
        switch format {
        case .png:
            file = try encodeLossless(image, codecID: AV_CODEC_ID_PNG, name: "PNG", color: AV_PIX_FMT_RGB24)
        case .bmp:
            file = try encodeLossless(image, codecID: AV_CODEC_ID_BMP, name: "BMP", color: AV_PIX_FMT_BGR24)
        case .jpeg:
            file = try encodeJPEG(image, quality: quality ?? defaultJPEGQuality)
        case .webp:
            file = try encodeWebP(image, quality: quality ?? defaultWebPQuality)
        }
        guard let text else { return file }
        return try ImageMetadata.embedding(text, in: file, format: format)
    }

    /// Decodes, then converts: 16-bit sources are reduced to 8 bits first, grey from RGB is
    /// computed here, everything else goes through swscale.
    private static func decode(_ bytes: [UInt8], name: String, as format: PixelFormat?) throws -> ImageFileContents {
        try withDecodingBytes(bytes) { raw, text in
            var decoded: UnsafeMutablePointer<AVFrame>? = try decodeFirstPicture(raw, name: name)
            defer { av_frame_free(&decoded) }
            var reduced = try reducedToEightBits(decoded!)
            defer { av_frame_free(&reduced) }
            let picture = reduced ?? decoded!
            let target = format ?? (isGrayFormat(picture.pixelFormat) || hasGrayPalette(picture) ? .gray8 : .rgb24)
            if target == .gray8 && isRGBFormat(picture.pixelFormat) {
                return ImageFileContents(image: try grayImage(fromRGB: picture), metadataText: text)
            }
            var converted: UnsafeMutablePointer<AVFrame>? = try convertedFrame(
                picture, to: target.avPixelFormat, range: target.isYUV ? AVCOL_RANGE_MPEG : AVCOL_RANGE_JPEG)
            defer { av_frame_free(&converted) }
            return ImageFileContents(image: try makeImage(from: converted!, format: target), metadataText: text)
        }
    }

    /// RGB sources become grey with exact BT.601 luma, so grey pixels keep their value
    /// (swscale computes limited-range luma and stretches it, which is off by one at times).
    private static func grayImage(fromRGB picture: UnsafeMutablePointer<AVFrame>) throws -> PlanarImage {
        var rgb: UnsafeMutablePointer<AVFrame>? = try convertedFrame(picture, to: AV_PIX_FMT_RGB24, range: AVCOL_RANGE_JPEG)
        defer { av_frame_free(&rgb) }
        let colour = try makeImage(from: rgb!, format: .rgb24)
        let luma = stride(from: 0, to: colour.planes[0].count, by: 3).map { i -> UInt8 in
            let r = Int(colour.planes[0][i]), g = Int(colour.planes[0][i + 1]), b = Int(colour.planes[0][i + 2])
            return UInt8((299 * r + 587 * g + 114 * b + 500) / 1000)
        }
        return try PlanarImage(format: .gray8, width: colour.width, height: colour.height, planes: [luma])
    }

    /// PNG and BMP: grey stays grey, everything else becomes 8-bit RGB (`color` byte order).
    private static func encodeLossless(
        _ image: PlanarImage, codecID: AVCodecID, name: String,
        color: AVPixelFormat
    ) throws -> [UInt8] {
        let target = image.format == .gray8 ? AV_PIX_FMT_GRAY8 : color
        var frame: UnsafeMutablePointer<AVFrame>? = try makeFrame(from: image, as: target, range: AVCOL_RANGE_JPEG)
        defer { av_frame_free(&frame) }
        return try encodePicture(frame!, codecID: codecID, codecName: name)
    }

    /// JPEG: 4:2:0 full-range YCbCr (JFIF) with libjpeg-style quantisation tables.
    private static func encodeJPEG(_ image: PlanarImage, quality: Int) throws -> [UInt8] {
        var frame: UnsafeMutablePointer<AVFrame>? = try makeFrame(
            from: image, as: AV_PIX_FMT_YUVJ420P,
            range: AVCOL_RANGE_JPEG)
        defer { av_frame_free(&frame) }
        // FFmpeg's MJPEG encoder writes its matrix times qscale / 8; at qscale 8 the tables
        // below go into the file unchanged (the DC quantiser stays FFmpeg's fixed 8).
        let lambda = FF_QP2LAMBDA * 8
        frame!.pointee.quality = lambda
        let tables = JPEGQuantisation(quality: quality)
        return try encodePicture(
            frame!, codecID: AV_CODEC_ID_MJPEG, codecName: "JPEG",
            configure: { codec in
                codec.pointee.flags |= AV_CODEC_FLAG_QSCALE
                codec.pointee.global_quality = lambda
                codec.pointee.intra_matrix = avMatrix(tables.luma)
                codec.pointee.chroma_intra_matrix = avMatrix(tables.chroma)
            },
            release: { codec in
                // FFmpeg 5.1's avcodec_free_context frees intra_matrix but not chroma_intra_matrix;
                // freeing (and clearing) both here is right for every version.
                av_freep(&codec.pointee.intra_matrix)
                av_freep(&codec.pointee.chroma_intra_matrix)
            })
    }

    /// Lossy WebP (VP8, 4:2:0 limited-range BT.601) through libwebp; `quality` is libwebp's.
    private static func encodeWebP(_ image: PlanarImage, quality: Int) throws -> [UInt8] {
        guard image.width <= maxWebPDimension, image.height <= maxWebPDimension else {
            throw NICError.dimensions(
                "WebP holds at most \(maxWebPDimension)x\(maxWebPDimension) pixels, "
                    + "not \(image.width)x\(image.height)")
        }
        var frame: UnsafeMutablePointer<AVFrame>? = try makeFrame(
            from: image, as: AV_PIX_FMT_YUV420P,
            range: AVCOL_RANGE_MPEG)
        defer { av_frame_free(&frame) }
        frame!.pointee.colorspace = AVCOL_SPC_SMPTE170M
        // By name: the first WebP encoder FFmpeg lists may be libwebp_anim, which writes animations.
        return try encodePicture(
            frame!, codecID: AV_CODEC_ID_WEBP, codecName: "WebP", encoderName: "libwebp",
            configure: { codec in
                // libwebp's encoder takes its quality from global_quality when that is set.
                codec.pointee.global_quality = Int32(quality) * FF_QP2LAMBDA
            })
    }

    /// `image` as a frame of `format`, converting only when the layouts differ.
    private static func makeFrame(
        from image: PlanarImage, as format: AVPixelFormat,
        range: AVColorRange
    ) throws -> UnsafeMutablePointer<AVFrame> {
        let frame = try FFGlue.makeFrame(from: image)
        if frame.pixelFormat == format { return frame }
        var source: UnsafeMutablePointer<AVFrame>? = frame
        defer { av_frame_free(&source) }
        return try convertedFrame(frame, to: format, range: range)
    }
}

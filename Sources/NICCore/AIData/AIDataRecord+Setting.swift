extension AIDataRecord {
    /// The record a server writes for a picture that `setting` downscaled from the original
    /// size to the downscaled size: the setting's ID and scale, both sizes, how the small
    /// picture is coded, and the flags every libnic writer sets (luma-only networks, generic
    /// fallback allowed). `classicDownscale`: the picture was downscaled by a classic filter at
    /// the setting's size instead, so the record names no setting (ID 0).
    public init(
        setting: NNSetting, originalWidth: Int, originalHeight: Int, downscaledWidth: Int, downscaledHeight: Int,
        codec: Codec = .uncompressed, qualityKind: QualityKind = .unspecified, qualityValue: Int32 = 0,
        contentType: ContentType = .unspecified, classicDownscale: Bool = false
    ) {
        self.init(
            settingID: classicDownscale ? 0 : UInt16(setting.id), scaleNumerator: UInt8(setting.scaleNumerator),
            scaleDenominator: UInt8(setting.scaleDenominator), originalWidth: originalWidth,
            originalHeight: originalHeight, downscaledWidth: downscaledWidth, downscaledHeight: downscaledHeight,
            codec: codec, qualityKind: qualityKind, qualityValue: qualityValue, contentType: contentType,
            flags: [.lumaOnly, .genericFallbackAllowed])
    }
}

extension AIDataRecord {
    /// The record of a picture coded at its full size, without a network: scale 1/1, no setting
    /// (ID 0), no flags. `codedWidth` x `codedHeight` is the coded size, the original size or
    /// up to one pixel less (4:2:0 encoders need even sizes). Players show it as it is
    /// (docs/ai-data.md §4.3).
    public static func fullResolution(
        originalWidth: Int, originalHeight: Int, codedWidth: Int, codedHeight: Int, codec: Codec = .uncompressed,
        qualityKind: QualityKind = .unspecified, qualityValue: Int32 = 0, contentType: ContentType = .unspecified
    ) -> AIDataRecord {
        AIDataRecord(
            settingID: 0, scaleNumerator: 1, scaleDenominator: 1, originalWidth: originalWidth, originalHeight: originalHeight,
            downscaledWidth: codedWidth, downscaledHeight: codedHeight, codec: codec, qualityKind: qualityKind,
            qualityValue: qualityValue, contentType: contentType)
    }

    /// Scale 1/1 and no setting: the picture was coded at full resolution (`fullResolution`).
    public var isFullResolution: Bool { settingID == 0 && scaleNumerator == scaleDenominator }
}

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

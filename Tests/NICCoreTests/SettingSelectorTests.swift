import XCTest
@testable import NICCore

final class SettingSelectorTests: XCTestCase {
    /// Six joint settings (x2 and x1.5, three buckets each) and one generic setting, which
    /// covers x265 CRF 46-51 when `genericRanges` is set.
    func manifest(genericRanges: Bool = false) throws -> SettingsManifest {
        var settings: [String] = []
        var id = 1
        for scale in ["[2,1]", "[3,2]"] {
            for (bucket, jpeg, crf) in [
                ("high", "[75,100]", "[0,23]"), ("mid", "[45,74.99]", "[23.01,30]"), ("low", "[1,44.99]", "[30.01,51]"),
            ] {
                settings.append(
                    #"{"id":\#(id),"kind":"joint","scale":\#(scale),"bucket":"\#(bucket)","quality_ranges":{"jpeg":\#(jpeg),"webp":\#(jpeg),"x264":\#(crf)},"down":{"weights":"d.safetensors","sha256":"00"},"up":{"weights":"u\#(id).safetensors","sha256":"00"}}"#
                )
                id += 1
            }
        }
        let ranges = genericRanges ? #","quality_ranges":{"x265":[46,51]}"# : ""
        settings.append(
            #"{"id":100,"kind":"generic","scale":[2,1],"bucket":"any"\#(ranges),"up":{"weights":"g.safetensors","sha256":"00"}}"#)
        return try SettingsManifest(
            json: try JSONValue.parse(#"{"format":"libnic-settings","version":1,"settings":["# + settings.joined(separator: ",") + "]}"))
    }

    func testBucketsFollowCodecQuality() throws {
        let selector = SettingSelector(manifest: try manifest())
        func pick(_ codec: String, _ q: Double?, scale: Double = 2) throws -> Int {
            try selector.select(.init(codec: Codec(name: codec)!, quality: q, scale: scale, originalWidth: 1920, originalHeight: 1080)).id
        }
        XCTAssertEqual(try pick("jpeg", 90), 1)
        XCTAssertEqual(try pick("jpeg", 60), 2)
        XCTAssertEqual(try pick("jpeg", 20), 3)
        XCTAssertEqual(try pick("webp", 80, scale: 1.5), 4)
        XCTAssertEqual(try pick("x264", 28), 2)
        XCTAssertEqual(try pick("x264", 40, scale: 1.5), 6)
        XCTAssertEqual(try pick("png", nil), 1)
        XCTAssertEqual(try pick("jpeg", nil), 2)
        XCTAssertEqual(try pick("x265", 20), 2, "codec without ranges: middle bucket")
        XCTAssertThrowsError(try pick("jpeg", 50, scale: 3))
    }

    /// A generic setting with quality ranges takes the strongest compression of stills; video
    /// (no generic settings: their up network is not real-time) keeps the nearest joint bucket.
    func testGenericSettingCoversItsRangesForStillsOnly() throws {
        let selector = SettingSelector(manifest: try manifest(genericRanges: true))
        func pick(_ crf: Double, video: Bool = false) throws -> Int {
            try selector.select(
                .init(
                    codec: .hevc, quality: crf, scale: 2, originalWidth: 768, originalHeight: 512,
                    needsRealTime: video)
            ).id
        }
        XCTAssertEqual(try pick(49), 100)
        XCTAssertEqual(try pick(49, video: true), 2, "nearest joint range (x265 has none here: middle bucket)")
        XCTAssertEqual(
            try selector.select(
                .init(
                    codec: .h264, quality: 49, scale: 2, originalWidth: 768,
                    originalHeight: 512)
            ).id, 3, "generic lists no x264 range")
        let plain = SettingSelector(manifest: try manifest())
        XCTAssertEqual(try plain.select(.init(codec: .h264, quality: 49, scale: 2, originalWidth: 768, originalHeight: 512)).id, 3)
    }

    /// Where a still-image setting (larger up network, `"realtime": false`) and a real-time one
    /// cover the same quality, stills take the larger one and video the real-time one.
    func testStillsPreferLargerUpNetworksVideoNeedsRealTime() throws {
        let entries = [
            (13, "mid", "[26,33.99]", ""), (17, "mid", "[26,33.99]", #","realtime":false"#),
            (15, "low", "[34,51]", ""), (18, "low", "[34,44.99]", #","realtime":false"#),
        ]
        let settings = entries.map { id, bucket, crf, flag in
            #"{"id":\#(id),"kind":"joint","scale":[2,1],"bucket":"\#(bucket)","quality_ranges":{"x265":\#(crf)}\#(flag),"down":{"weights":"d.safetensors","sha256":"00"},"up":{"weights":"u\#(id).safetensors","sha256":"00"}}"#
        }
        let manifest = try SettingsManifest(
            json: try JSONValue.parse(#"{"format":"libnic-settings","version":1,"settings":["# + settings.joined(separator: ",") + "]}"))
        XCTAssertEqual(manifest.settings.map(\.realTime), [true, false, true, false])
        let selector = SettingSelector(manifest: manifest)
        func pick(_ crf: Double?, video: Bool) throws -> Int {
            try selector.select(
                .init(
                    codec: .hevc, quality: crf, scale: 2, originalWidth: 768, originalHeight: 512,
                    needsRealTime: video)
            ).id
        }
        XCTAssertEqual(try pick(30, video: false), 17)
        XCTAssertEqual(try pick(30, video: true), 13)
        XCTAssertEqual(try pick(nil, video: false), 17, "middle bucket")
        XCTAssertEqual(try pick(nil, video: true), 13)
        XCTAssertEqual(try pick(40, video: false), 18)
        XCTAssertEqual(try pick(48, video: false), 15, "only the real-time setting covers CRF 48")
        XCTAssertEqual(try pick(40, video: true), 15)
    }

    /// Without a quality, the middle bucket of the settings trained for the codec wins over a
    /// middle bucket listed earlier for other codecs; a setting without ranges (kept for decoding
    /// older files) is never chosen.
    func testMiddleBucketPrefersSettingsOfTheCodec() throws {
        let settings = [(3, "{}"), (4, #"{"jpeg":[45,74.99]}"#), (11, #"{"x265":[26,33.99]}"#)].map { id, ranges in
            #"{"id":\#(id),"kind":"joint","scale":[3,2],"bucket":"mid","quality_ranges":\#(ranges),"down":{"weights":"d.safetensors","sha256":"00"},"up":{"weights":"u\#(id).safetensors","sha256":"00"}}"#
        }
        let manifest = try SettingsManifest(
            json: try JSONValue.parse(#"{"format":"libnic-settings","version":1,"settings":["# + settings.joined(separator: ",") + "]}"))
        let selector = SettingSelector(manifest: manifest)
        func pick(_ codec: String) throws -> Int {
            try selector.select(.init(codec: Codec(name: codec)!, scale: 1.5, originalWidth: 768, originalHeight: 512)).id
        }
        XCTAssertEqual(try pick("x265"), 11)
        XCTAssertEqual(try pick("jpeg"), 4)
        XCTAssertEqual(try pick("webp"), 4, "no setting lists webp: the first middle bucket")
    }

    func testScaleFollowsRateResolutionAndContent() throws {
        let selector = SettingSelector(manifest: try manifest())
        func scale(_ r: SettingSelector.Request) throws -> Double { try selector.select(r).scale }
        XCTAssertEqual(try scale(.init(codec: .jpeg, quality: 30, originalWidth: 1280, originalHeight: 720)), 2)
        XCTAssertEqual(try scale(.init(codec: .jpeg, quality: 85, originalWidth: 1280, originalHeight: 720)), 1.5)
        XCTAssertEqual(try scale(.init(codec: .jpeg, quality: 85, originalWidth: 3840, originalHeight: 2160)), 2)
        XCTAssertEqual(try scale(.init(codec: .jpeg, targetBitsPerPixel: 0.1, originalWidth: 800, originalHeight: 600)), 2)
        XCTAssertEqual(
            try scale(
                .init(
                    codec: .jpeg, quality: 20, originalWidth: 3840, originalHeight: 2160,
                    contentType: .screen)), 1.5)
    }

    /// Scale 1 takes the restoration setting of the codec's bucket; a codec without one gets
    /// none, and no other scale ever takes a restoration setting.
    func testRestorationServesOnlyItsCodecAtFullSize() throws {
        var json = try manifest().settings.map(\.details)
        for (id, bucket, crf) in [(20, "high", "[0,23]"), (21, "low", "[23.01,51]")] {
            json.append(
                try JSONValue.parse(
                    #"{"id":\#(id),"kind":"restoration","scale":[1,1],"bucket":"\#(bucket)","quality_ranges":{"x264":\#(crf)},"up":{"weights":"r.safetensors","sha256":"00"}}"#
                ))
        }
        let manifest = try SettingsManifest(
            json: .object(["format": .string("libnic-settings"), "version": .number(1), "settings": .array(json)]))
        XCTAssertEqual(manifest.setting(id: 20)?.kind, .restoration)
        XCTAssertEqual(manifest.setting(id: 20)?.realTime, true)
        let selector = SettingSelector(manifest: manifest)
        func request(_ codec: Codec, _ crf: Double?, scale: Double? = nil) -> SettingSelector.Request {
            .init(codec: codec, quality: crf, scale: scale, originalWidth: 1920, originalHeight: 1080, needsRealTime: true)
        }
        XCTAssertEqual(selector.restoration(request(.h264, 18))?.id, 20)
        XCTAssertEqual(selector.restoration(request(.h264, 40))?.id, 21)
        XCTAssertEqual(selector.restoration(request(.h264, 60))?.id, 21, "the nearest range")
        XCTAssertNil(selector.restoration(request(.hevc, 18)))
        XCTAssertThrowsError(try selector.select(request(.hevc, 18, scale: 1)))
        for crf in [10.0, 30, 45] {
            XCTAssertNotEqual(try selector.select(request(.h264, crf)).kind, .restoration)
            XCTAssertNotEqual(try selector.select(request(.h264, crf, scale: 2)).kind, .restoration)
        }
    }

    func testManifestValidation() {
        for bad in [
            #"{"format":"other","version":1,"settings":[]}"#,
            #"{"format":"libnic-settings","version":1,"settings":[{"id":0,"kind":"joint","scale":[2,1]}]}"#,
            #"{"format":"libnic-settings","version":1,"settings":[{"id":1,"kind":"joint","scale":[2,1],"up":{"weights":"../x","sha256":"0"},"down":{"weights":"d","sha256":"0"}}]}"#,
            #"{"format":"libnic-settings","version":1,"settings":[{"id":1,"kind":"joint","scale":[2,1],"up":{"weights":"u","sha256":"0"}}]}"#,
            // Only a restoration setting keeps the size, with no down network.
            #"{"format":"libnic-settings","version":1,"settings":[{"id":1,"kind":"joint","scale":[1,1],"up":{"weights":"u","sha256":"0"},"down":{"weights":"d","sha256":"0"}}]}"#,
            #"{"format":"libnic-settings","version":1,"settings":[{"id":1,"kind":"restoration","scale":[2,1],"up":{"weights":"u","sha256":"0"}}]}"#,
            #"{"format":"libnic-settings","version":1,"settings":[{"id":1,"kind":"restoration","scale":[1,1],"up":{"weights":"u","sha256":"0"},"down":{"weights":"d","sha256":"0"}}]}"#,
            #"{"format":"libnic-settings","version":1,"settings":[{"id":1,"kind":"generic","scale":[1,1],"up":{"weights":"u","sha256":"0"}}]}"#,
        ] {
            XCTAssertThrowsError(try SettingsManifest(json: try JSONValue.parse(bad)), bad)
        }
    }
}

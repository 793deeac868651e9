import Testing
@testable import VBatchClient

@Suite("UTC time formatting")
struct UTCTimeTests {
    @Test(arguments: [
        (0.0, "1970-01-01 00:00:00"),
        (1_795_305_280.75, "2026-11-21 23:54:40"),
        (951_782_400, "2000-02-29 00:00:00"),
        (4_107_542_399, "2100-02-28 23:59:59"),
        (-1, "1969-12-31 23:59:59"),
        (253_402_300_799, "9999-12-31 23:59:59"),
    ])
    func format(seconds: Double, text: String) {
        #expect(UTCTime.format(seconds) == text)
    }

    @Test func nonFinite() {
        #expect(UTCTime.format(.nan) == "-")
        #expect(UTCTime.format(.infinity) == "-")
    }
}

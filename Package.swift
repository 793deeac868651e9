// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "vbatch",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vbatchd", targets: ["vbatchd"]),
        .executable(name: "vbatch", targets: ["vbatch"]),
        .executable(name: "vbatch-bench", targets: ["vbatch-bench"]),
        .executable(name: "vbatch-image", targets: ["vbatch-image"]),
        .executable(name: "vbatch-simulate", targets: ["vbatch-simulate"]),
        .executable(name: "vbatch-relay", targets: ["vbatch-relay"]),
        .executable(name: "vbatch-fuzz", targets: ["vbatch-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // Pure scheduler core: queue model, routing, ordering, placement, backfill. No I/O.
        .target(name: "VBatchCore"),
        // Wire types shared by the daemon and the CLI (JSON over the Unix socket).
        .target(name: "VBatchAPI", dependencies: ["VBatchCore"]),
        // Reads and validates queues/*.toml, images/*.toml and site.toml.
        .target(name: "VBatchConfig", dependencies: [
            "VBatchCore",
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        // Crash points for the crash matrix: a test (debug) build kills itself where VBATCH_CRASH_AT says.
        .target(name: "VBatchFaults"),
        // Durable job store: SQLite (WAL) through GRDB.
        .target(name: "VBatchStore", dependencies: [
            "VBatchCore", "VBatchAPI", "VBatchFaults",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ]),
        // Hypervisor-driver protocol and the simulated driver (virtual clock).
        .target(name: "VBatchDrivers", dependencies: ["VBatchCore"]),
        // The libvirt hypervisor driver: each job in a transient QEMU domain.
        .target(name: "VBatchLibvirtDriver", dependencies: [
            "VBatchCore", "VBatchDrivers", "VBatchLibvirt", "VBatchFaults",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // Unix accounts and socket peer credentials: who is calling, for vbatchd and the relay.
        .target(name: "VBatchAccounts", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // What vbatchd and vbatch-relay need from their environment: logfmt/JSON logs, systemd notifications.
        .target(name: "VBatchService", dependencies: [
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The daemon as a library: engine, HTTP API, services.
        .target(name: "VBatchDaemon", dependencies: [
            "VBatchCore", "VBatchAPI", "VBatchAccounts", "VBatchConfig", "VBatchStore", "VBatchDrivers", "VBatchLibvirtDriver",
            "VBatchService", "VBatchFaults",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // The image factory: recipes, site policy, building qcow2 images (debootstrap, chroot, mkfs.ext4 -d).
        .target(name: "VBatchFactory", dependencies: [
            "VBatchCore", "VBatchConfig", "VBatchDrivers",
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        // Minimal HTTP/1.1 client over a Unix socket, kept small so `vbatch` starts fast.
        .target(name: "VBatchClient", dependencies: ["VBatchAPI", "VBatchCore"]),
        // The libvirt C API (system library from libvirt-dev) behind a tiny shim header.
        .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),
        // Swift wrapper over libvirt: timed calls, reconnect, lifecycle events, domain XML builder.
        .target(name: "VBatchLibvirt", dependencies: ["CLibvirt"]),
        .executableTarget(name: "vbatchd", dependencies: [
            "VBatchDaemon", "VBatchService",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(
            name: "vbatch",
            dependencies: [
                "VBatchAPI", "VBatchClient", "VBatchCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // One `vbatch` process per job: a static executable has no dynamic loading at all
            // (41,000 relocations and libstdc++ with a static-stdlib binary): `vbatch --version`
            // 4.7 -> 3.1 ms, half the page faults (docs/performance.md, issue 15). glibc's NSS
            // (getpwuid, only when qsub finds neither $LOGNAME nor $USER) then loads the
            // machine's own libnss at run time, so build it on the glibc it runs on.
            swiftSettings: [.unsafeFlags(["-static-executable"], .when(platforms: [.linux], configuration: .release))],
            linkerSettings: [.unsafeFlags(["-static-executable"], .when(platforms: [.linux], configuration: .release))]
        ),
        // `vbatch image …` execs it: the factory stays out of the `vbatch` binary, which starts once per job.
        .executableTarget(name: "vbatch-image", dependencies: ["VBatchFactory", "VBatchConfig", "VBatchCore", "VBatchDrivers"]),
        // `vbatch simulate` execs it: SWF trace replay against the operator's configuration on simulated nodes.
        .executableTarget(name: "vbatch-simulate", dependencies: [
            "VBatchConfig", "VBatchCore", "VBatchDrivers",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // `vbatch relay` execs it on CE hosts: the local socket, forwarded over mutual TLS to vbatchd.
        .executableTarget(name: "vbatch-relay", dependencies: [
            "VBatchAccounts", "VBatchAPI", "VBatchCore", "VBatchService",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Coverage-guided fuzz targets for the parsers of outside input (DESIGN.md R6, scripts/fuzz.sh):
        // built as usual it runs corpus files once (the tests' regression mode); built by
        // scripts/fuzz.sh with -DVBATCH_FUZZ and libFuzzer's instrumentation it fuzzes.
        .executableTarget(name: "vbatch-fuzz", dependencies: [
            "VBatchAPI", "VBatchClient", "VBatchConfig", "VBatchCore", "VBatchDrivers", "VBatchFactory",
        ]),
        .executableTarget(name: "vbatch-bench", dependencies: [
            "VBatchCore", "VBatchAPI", "VBatchClient", "VBatchDrivers", "VBatchLibvirt", "VBatchLibvirtDriver",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "VBatchCoreTests", dependencies: ["VBatchCore"]),
        .testTarget(name: "VBatchConfigTests", dependencies: ["VBatchConfig", "VBatchCore"]),
        .testTarget(name: "VBatchDriversTests", dependencies: ["VBatchDrivers", "VBatchCore"]),
        .testTarget(name: "VBatchLibvirtDriverTests", dependencies: [
            "VBatchLibvirtDriver", "VBatchLibvirt", "VBatchDrivers", "VBatchCore",
        ]),
        .testTarget(name: "VBatchStoreTests", dependencies: [
            "VBatchStore", "VBatchCore", "VBatchAPI", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "VBatchDaemonTests", dependencies: [
            "VBatchDaemon", "VBatchAPI", "VBatchClient", "VBatchCore", "VBatchDrivers", "VBatchStore", "VBatchConfig",
            "VBatchLibvirt", "VBatchService",
        ]),
        .testTarget(name: "VBatchServiceTests", dependencies: [
            "VBatchService", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "VBatchClientTests", dependencies: ["VBatchClient", "VBatchAPI", "VBatchCore"]),
        .testTarget(name: "VBatchLibvirtTests", dependencies: ["VBatchLibvirt"]),
        .testTarget(name: "VBatchFactoryTests", dependencies: [
            "VBatchFactory", "VBatchConfig", "VBatchCore", "VBatchDrivers", "VBatchLibvirt",
        ]),
    ]
)

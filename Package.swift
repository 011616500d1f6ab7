// swift-tools-version: 6.1
import PackageDescription

// Every Swift target builds with the same settings: existentials are spelled `any`.
let swiftSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
  name: "mlhost",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "mlhost", targets: ["mlhost"]),
    .library(name: "MLHostRuntime", targets: ["MLHostRuntime"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
  ],
  targets: [
    // C shims over the system libraries: module maps plus static-inline wrappers for macros and variadics.
    .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
    .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
    .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
    .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
    // The only place that calls lua_error / lua_yield: Swift natives return a status to these trampolines.
    .target(name: "CLuaBridge", dependencies: ["CLua"]),

    .target(
      name: "MLHostLua",
      dependencies: ["CLuaBridge", "CLua"],
      swiftSettings: swiftSettings
    ),
    // The runtime in layers, each importing only the ones above it here (docs/ARCHITECTURE.md).
    // Values: decimals, timestamps, codecs, digests, cron, log lines, redaction, the serial thread.
    .target(
      name: "MLHostCore",
      dependencies: ["COpenSSL", .product(name: "Logging", package: "swift-log")],
      swiftSettings: swiftSettings
    ),
    // SQLite, migrations, the job store, the state folder.
    .target(name: "MLHostStore", dependencies: ["MLHostCore", "CSQLite"], swiftSettings: swiftSettings),
    // Talking to systems: libcurl, auth schemes, the credential vault, budgets, retries, metrics.
    .target(
      name: "MLHostSystems",
      dependencies: [
        "MLHostCore", "MLHostStore", "CCurl", "COpenSSL", .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    // The Lua VM on its thread, coroutines, limits, the script sandbox and the native registry; it knows no native.
    .target(
      name: "MLHostVM",
      dependencies: ["MLHostCore", "MLHostLua", .product(name: "Logging", package: "swift-log")],
      swiftSettings: swiftSettings
    ),
    // The natives (`mlhost.*`), each declared once with its docs, the settings schema and the job machinery.
    .target(
      name: "MLHostModules",
      dependencies: [
        "MLHostCore", "MLHostStore", "MLHostSystems", "MLHostVM", "MLHostLua",
        .product(name: "Logging", package: "swift-log"),
      ],
      resources: [.embedInCode("Lua/job.lua")],
      swiftSettings: swiftSettings
    ),
    // The host: connector versions and reload, queue dispatch, scheduling, webhook ingress.
    .target(
      name: "MLHostRuntime",
      dependencies: [
        "MLHostCore", "MLHostStore", "MLHostSystems", "MLHostVM", "MLHostModules", "MLHostLua", "COpenSSL",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "MLHostServer",
      dependencies: [
        "MLHostCore", "MLHostStore", "MLHostSystems", "MLHostRuntime",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdCore", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),
    // Simulated Shopify, Sage X3, WooCommerce, Adobe Commerce and Sage 300 for `mlhost run --sandbox`, tests and
    // benchmarks: values from Core, and Systems for the vault's credentials and webhook deliveries over libcurl.
    .target(
      name: "MLHostSandbox",
      dependencies: ["MLHostCore", "MLHostSystems", "COpenSSL", .product(name: "Hummingbird", package: "hummingbird")],
      swiftSettings: swiftSettings
    ),
    // `mlhost test`: a connector's test cases (data in its package's tests/) run against the sandbox systems.
    .target(
      name: "MLHostCases",
      dependencies: [
        "MLHostCore", "MLHostStore", "MLHostSystems", "MLHostModules", "MLHostRuntime", "MLHostLua", "MLHostSandbox",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "mlhost",
      dependencies: [
        "MLHostCore", "MLHostStore", "MLHostSystems", "MLHostVM", "MLHostModules", "MLHostRuntime", "MLHostLua",
        "MLHostServer", "MLHostSandbox", "MLHostCases",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "mlhost-bench",
      dependencies: [
        "MLHostSystems", "MLHostVM", "MLHostModules", "MLHostRuntime", "MLHostLua", "MLHostTesting", "MLHostSandbox",
        "CLuaBridge", "CLua", "CBenchSupport",
        .product(name: "Logging", package: "swift-log"), .product(name: "Hummingbird", package: "hummingbird"),
      ],
      path: "Benchmarks/mlhost-bench",
      swiftSettings: swiftSettings
    ),
    // libFuzzer targets over the JSON decoder, the webhook path and the settings reader (docs/FUZZING.md); a
    // plain build makes the corpus replayer.
    .executableTarget(name: "mlhost-fuzz", dependencies: ["MLHostRuntime"], swiftSettings: swiftSettings),
    // The benchmark's C baseline, kept out of the product's bridge.
    .target(name: "CBenchSupport", dependencies: ["CLua"], path: "Benchmarks/CBenchSupport"),
    .target(
      name: "MLHostTesting",
      dependencies: [
        "MLHostCore", "MLHostStore", "MLHostSystems", "MLHostVM", "MLHostRuntime", "MLHostLua",
        .product(name: "Logging", package: "swift-log"), .product(name: "Hummingbird", package: "hummingbird"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "MLHostLuaTests", dependencies: ["MLHostLua", "CLuaBridge", "CLua"], swiftSettings: swiftSettings),
    .testTarget(
      name: "ConnectorTests",
      dependencies: [
        "MLHostCore", "MLHostStore", "MLHostSystems", "MLHostRuntime", "MLHostSandbox", "MLHostTesting", "MLHostCases",
      ],
      swiftSettings: swiftSettings),
    .testTarget(
      name: "MLHostStoreTests",
      dependencies: [
        "MLHostCore", "MLHostStore", "MLHostRuntime", "MLHostTesting", "CSQLite",
        .product(name: "Hummingbird", package: "hummingbird"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "MLHostSystemsTests",
      dependencies: [
        "MLHostCore", "MLHostStore", "MLHostSystems", "MLHostRuntime", "MLHostLua", "MLHostTesting",
        .product(name: "Hummingbird", package: "hummingbird"),
      ],
      exclude: ["Fixtures"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "MLHostVMTests",
      dependencies: [
        "MLHostCore", "MLHostVM", "MLHostRuntime", "MLHostLua", "MLHostTesting",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "MLHostModulesTests",
      dependencies: ["MLHostCore", "MLHostModules", "MLHostRuntime", "MLHostLua", "MLHostTesting"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "MLHostRuntimeTests",
      dependencies: [
        "MLHostCore", "MLHostStore", "MLHostSystems", "MLHostVM", "MLHostModules", "MLHostRuntime", "MLHostLua",
        "MLHostTesting", .product(name: "Hummingbird", package: "hummingbird"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "MLHostServerTests",
      dependencies: [
        "MLHostCore", "MLHostStore", "MLHostSystems", "MLHostServer", "MLHostRuntime", "MLHostLua", "MLHostTesting",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTesting", package: "hummingbird"),
      ],
      swiftSettings: swiftSettings),
  ]
)

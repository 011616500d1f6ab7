// swift-tools-version: 6.1
import PackageDescription

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
      swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
    ),
    .target(
      name: "MLHostRuntime",
      dependencies: [
        "MLHostLua", "COpenSSL", "CSQLite", "CCurl",
        .product(name: "Logging", package: "swift-log"),
      ],
      resources: [.embedInCode("Lua/job.lua")],
      swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
    ),
    .target(
      name: "MLHostServer",
      dependencies: [
        "MLHostRuntime",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdCore", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ],
      swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
    ),
    // Simulated Shopify and Sage X3 (and later the other systems) for `mlhost run --sandbox`, tests and benchmarks.
    .target(
      name: "MLHostSandbox",
      dependencies: ["MLHostRuntime", "COpenSSL", .product(name: "Hummingbird", package: "hummingbird")],
      swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
    ),
    // `mlhost test`: a connector's test cases (data in its package's tests/) run against the sandbox systems.
    .target(
      name: "MLHostCases",
      dependencies: ["MLHostRuntime", "MLHostLua", "MLHostSandbox", .product(name: "Logging", package: "swift-log")],
      swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
    ),
    .executableTarget(
      name: "mlhost",
      dependencies: [
        "MLHostRuntime", "MLHostLua", "MLHostServer", "MLHostSandbox", "MLHostCases",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    .executableTarget(
      name: "mlhost-bench",
      dependencies: [
        "MLHostRuntime", "MLHostLua", "MLHostTesting", "MLHostSandbox", "CLuaBridge", "CLua", "CBenchSupport",
        .product(name: "Logging", package: "swift-log"), .product(name: "Hummingbird", package: "hummingbird"),
      ],
      path: "Benchmarks/mlhost-bench"
    ),
    // libFuzzer targets over the JSON decoder, the webhook path and the settings reader (docs/FUZZING.md); a
    // plain build makes the corpus replayer.
    .executableTarget(name: "mlhost-fuzz", dependencies: ["MLHostRuntime"]),
    // The benchmark's C baseline, kept out of the product's bridge.
    .target(name: "CBenchSupport", dependencies: ["CLua"], path: "Benchmarks/CBenchSupport"),
    .target(
      name: "MLHostTesting",
      dependencies: ["MLHostRuntime", "MLHostLua", .product(name: "Logging", package: "swift-log")]
    ),
    .testTarget(name: "MLHostLuaTests", dependencies: ["MLHostLua", "CLuaBridge", "CLua"]),
    .testTarget(name: "ConnectorTests", dependencies: ["MLHostSandbox", "MLHostRuntime", "MLHostTesting", "MLHostCases"]),
    .testTarget(name: "MLHostRuntimeTests", dependencies: ["MLHostRuntime", "MLHostLua", "MLHostTesting", "CSQLite"]),
    .testTarget(
      name: "MLHostServerTests",
      dependencies: [
        "MLHostServer", "MLHostRuntime", "MLHostLua", "MLHostTesting", .product(name: "Hummingbird", package: "hummingbird"),
      ],
      exclude: ["Fixtures"]),
  ]
)

// The view-model layer as a plain Kotlin/JVM module. CI builds and tests the same sources with
// notebook-core/pom.xml (Maven); this file is for Android Studio. Its JVM tests need the host
// library: `cargo build -p mend-ffi` in the repository root puts it in target/debug.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    api(project(":mend-bindings"))
    api(libs.kotlinx.coroutines.core)
    compileOnly(libs.jna)

    testImplementation(libs.jna)
    testImplementation(platform(libs.junit.bom))
    testImplementation(libs.junit.jupiter)
    testRuntimeOnly(libs.junit.platform.launcher)
}

tasks.test {
    useJUnitPlatform()
    systemProperty("jna.library.path", rootProject.file("../target/debug").absolutePath)
    systemProperty("mend.relay.bin", rootProject.file("../target/debug/mend-relay").absolutePath)
}

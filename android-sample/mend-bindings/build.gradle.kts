// The Kotlin bindings as a JVM library for the Gradle build: the uniffi-generated sources that
// bindings/packaging/android-aar.sh writes to target/aar/kotlin, plus the idiomatic layer
// (org.mend.changes, syncListener) from bindings/kotlin. JNA is compileOnly: the app brings
// JNA's Android AAR (with libjnidispatch.so) and JVM tests bring the plain jar.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

val generated = rootProject.file("../target/aar/kotlin")

kotlin {
    jvmToolchain(17)
    sourceSets.named("main") {
        kotlin.srcDir(generated)
        kotlin.srcDir(rootProject.file("../bindings/kotlin/src/main/kotlin"))
    }
}

dependencies {
    compileOnly(libs.jna)
    api(libs.kotlinx.coroutines.core)
}

tasks.named("compileKotlin") {
    doFirst {
        check(generated.resolve("org/mend/core").isDirectory) {
            "No generated bindings in $generated: run bash bindings/packaging/android-aar.sh from the repository root first."
        }
    }
}

// The Android sample: a Compose app (:app) over a plain Kotlin view-model module
// (:notebook-core, also built by Maven in CI) over the Kotlin bindings (:mend-bindings, the
// uniffi-generated sources laid out by bindings/packaging/android-aar.sh).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "mend-android-sample"
include(":mend-bindings", ":notebook-core", ":app")

// Two devices through the bindings' in-process relay: an invite made in Settings and joined from
// the setup screen, sync progress and pending counts, remote typing reaching an open editor, a
// conflict made by two devices resolved in the inbox (naming the record's kind and client), edits of
// a logged rupture on both devices merging, two devices typing one rupture narrative offline, a
// void reaching the other device, late edits to a signed note, and devices (join order, names,
// revocation).
import Foundation
import XCTest
import Mend
@testable import NotebookKit

final class TwoDeviceTests: NotebookTestCase {
    struct Pair {
        let relay: InMemoryRelay
        let phone: Device
        let tablet: Device
        let p: NotebookSession
        let t: NotebookSession
    }

    /// A phone with one client, and a tablet joined through an invite made in the phone's settings.
    func pair(alias: String = "C-0500") async throws -> (Pair, String) {
        let relay = InMemoryRelay()
        let phone = device("phone", relay: relay)
        let p = try await phone.create()
        let client = try p.clients.addClient(NewClientForm(alias: alias, jurisdiction: "US-CA"))
        let made = await p.settings.createInvite()
        let offer = try XCTUnwrap(made)
        XCTAssertEqual(p.sync.phase, .succeeded, p.sync.errorMessage ?? "")
        let tablet = device("tablet", relay: relay)
        let join = JoinVaultModel(app: tablet.app)
        join.inviteText = offer.payloadText
        join.code = offer.code
        join.relayText = "https://relay.example.org"
        XCTAssertEqual(join.errors, [])
        await join.join()
        XCTAssertEqual(tablet.app.phase, .unlocked, tablet.app.lastError?.message ?? "")
        let t = try tablet.session
        await t.sync.sync()
        return (Pair(relay: relay, phone: phone, tablet: tablet, p: p, t: t), client)
    }

    func syncBoth(_ x: Pair, rounds: Int = 2) async {
        for _ in 0..<rounds {
            await x.p.sync.sync()
            await x.t.sync.sync()
        }
    }

    func testInviteJoinSyncProgressAndPendingChanges() async throws {
        let (x, client) = try await pair()
        XCTAssertEqual(x.t.clients.clients.map(\.id), [client], "the joined device lists the client after a sync")
        XCTAssertEqual(x.tablet.keys.count, 1)
        XCTAssertNotEqual(try x.tablet.keys.readKey(), try x.phone.keys.readKey(), "each device has its own vault key")

        let timeline = x.p.timeline(clientId: client)
        let session = try addSession(timeline)
        let editor = x.p.noteEditor(noteId: try timeline.startNote(sessionId: session, format: .girp))
        editor.edit("goal", to: "Sleep hygiene")
        XCTAssertGreaterThan(x.p.sync.pendingChanges, 0, "local changes wait for a sync")
        await x.p.sync.sync()
        XCTAssertEqual(x.p.sync.phase, .succeeded)
        XCTAssertGreaterThan(x.p.sync.progressUpdates, 0, "progress was reported")
        XCTAssertGreaterThan(x.p.sync.progress.pushed, 0)
        XCTAssertEqual(x.p.sync.progress.toPush, 0, "nothing left to push at the end")
        XCTAssertEqual(x.p.sync.progress.fraction, 1)
        XCTAssertGreaterThan(try XCTUnwrap(x.p.sync.lastReport).pushed, 0)
        XCTAssertEqual(x.p.sync.pendingChanges, 0)
        XCTAssertEqual(x.p.sync.lastSynced, x.phone.clock.now)

        let tabletTimeline = x.t.timeline(clientId: client)
        XCTAssertEqual(tabletTimeline.rows.count, 0)
        await x.t.sync.sync()
        XCTAssertGreaterThan(try XCTUnwrap(x.t.sync.lastReport).applied, 0)
        XCTAssertEqual(tabletTimeline.rows.count, 2, "the open timeline reloaded after the sync")
        XCTAssertNil(x.relay.dump().range(of: Data("Sleep hygiene".utf8)), "the relay holds ciphertext only")
        XCTAssertNil(x.relay.dump().range(of: Data("C-0500".utf8)))
    }

    func testJoinFailuresLeaveNothingBehind() async throws {
        let relay = InMemoryRelay()
        let phone = device("phone", relay: relay)
        let p = try await phone.create()
        let made = await p.settings.createInvite()
        let offer = try XCTUnwrap(made)

        let tablet = device("tablet", relay: relay)
        let join = JoinVaultModel(app: tablet.app)
        join.inviteText = "not base64!"
        join.code = "ABC"
        join.relayText = "http://relay.example.org"
        XCTAssertEqual(join.errors.map(\.field), ["invite", "code", "relay"])
        await join.join()
        guard case .invalid = tablet.app.lastError else { return XCTFail("\(String(describing: tablet.app.lastError))") }

        join.inviteText = offer.payloadText
        join.relayText = "https://relay.example.org"
        join.code = offer.code == "ABCD-EFGH-JKMN" ? "ABCD-EFGH-JKMP" : "ABCD-EFGH-JKMN"
        await join.join()
        XCTAssertEqual(tablet.app.lastError, .vault(.invite(.wrongCode)))
        XCTAssertEqual(tablet.app.phase, .setup)
        XCTAssertNil(try tablet.keys.readKey(), "the new key is dropped when joining fails")
        XCTAssertFalse(FileManager.default.fileExists(atPath: tablet.environment.vaultURL.path))

        join.code = offer.code.lowercased().replacingOccurrences(of: "-", with: " ")
        await join.join()
        XCTAssertEqual(tablet.app.phase, .unlocked, "codes are read leniently")

        let third = device("laptop", relay: relay)
        let again = JoinVaultModel(app: third.app)
        again.inviteText = offer.payloadText
        again.code = offer.code
        again.relayText = "https://relay.example.org"
        await again.join()
        XCTAssertEqual(third.app.lastError, .vault(.invite(.used)))
    }

    func testRemoteTypingReachesAnOpenEditor() async throws {
        let (x, client) = try await pair()
        let timeline = x.p.timeline(clientId: client)
        let noteId = try timeline.startNote(sessionId: try addSession(timeline), format: .soap)
        let phoneEditor = x.p.noteEditor(noteId: noteId)
        phoneEditor.edit("subjective", to: "Feels stuck")
        await syncBoth(x, rounds: 1)
        let tabletEditor = x.t.noteEditor(noteId: noteId)
        XCTAssertEqual(tabletEditor.text("subjective"), "Feels stuck")

        // Both type offline; after syncing, both editors show the merged text.
        phoneEditor.edit("subjective", to: "Feels stuck at work")
        tabletEditor.edit("subjective", to: "Client: Feels stuck")
        await syncBoth(x)
        XCTAssertEqual(phoneEditor.text("subjective"), "Client: Feels stuck at work")
        XCTAssertEqual(tabletEditor.text("subjective"), "Client: Feels stuck at work")
    }

    func testAConflictMadeByTwoDevicesIsListedAndResolved() async throws {
        let (x, client) = try await pair(alias: "C-0600")
        let form = x.p.newRupture(clientId: client)
        form.toggle(.wdDeferentialAppeasing)
        form.significance = 3
        let rupture = try form.save()
        await syncBoth(x, rounds: 1)
        XCTAssertEqual(x.p.conflicts.items, [])

        // Offline, each device rates the rupture differently.
        let onPhone = x.p.rupture(id: rupture)
        onPhone.significance = 4
        try onPhone.saveChanges()
        let onTablet = x.t.rupture(id: rupture)
        XCTAssertEqual(onTablet.significance, 3)
        onTablet.significance = 2
        try onTablet.saveChanges()
        await syncBoth(x)

        let inbox = x.p.conflicts
        XCTAssertEqual(inbox.count, 1, "the inbox reloaded after the sync")
        let item = try XCTUnwrap(inbox.items.first)
        XCTAssertEqual(item.recordId, rupture)
        XCTAssertEqual(item.recordKind, .rupture)
        XCTAssertEqual(item.clientId, client, "Mend names the rupture's client")
        XCTAssertEqual(item.field, "significance")
        XCTAssertEqual(item.title, "Rupture significance")
        XCTAssertEqual(item.clientAlias, "C-0600")
        XCTAssertEqual(Set(item.options.map(\.value)), ["4", "2"])
        XCTAssertEqual(item.options.first { $0.value == "4" }?.device, "This device")
        XCTAssertEqual(item.options.first { $0.value == "2" }?.device, "Device …" + String(x.t.deviceId.suffix(6)))
        XCTAssertEqual(item.options.first { $0.value == "2" }?.label, "2 of 5")
        XCTAssertEqual(x.t.conflicts.items.map(\.clientAlias), ["C-0600"], "the tablet sees the same conflict")
        XCTAssertEqual(ConflictInboxModel.label(kind: .client, field: "status", value: "on_hold"), "On hold")
        XCTAssertEqual(ConflictInboxModel.label(kind: .note, field: "risk.si", value: "active_no_plan"), "Active, no plan")
        XCTAssertEqual(ConflictInboxModel.label(kind: .note, field: "format", value: "free"), "Free text")
        XCTAssertEqual(ConflictInboxModel.title(kind: .session, field: "status"), "Session: status")

        inbox.resolve(item, choosing: try XCTUnwrap(item.options.first { $0.value == "2" }))
        XCTAssertNil(inbox.errorMessage)
        XCTAssertEqual(inbox.items, [])
        XCTAssertEqual(onPhone.significance, 2, "the open rupture form observed the resolution")
        await syncBoth(x)
        XCTAssertEqual(x.t.conflicts.items, [], "the resolution synced")
        XCTAssertEqual(onTablet.significance, 2)
    }

    func testConcurrentClientStatusesAreAConflictToo() async throws {
        let (x, client) = try await pair(alias: "C-0650")
        try x.p.timeline(clientId: client).setStatus(.onHold)
        try x.t.timeline(clientId: client).setStatus(.discharged)
        await syncBoth(x)
        let item = try XCTUnwrap(x.p.conflicts.items.first)
        XCTAssertEqual(item.title, "Client status")
        XCTAssertEqual(item.recordKind, .client)
        XCTAssertEqual(item.clientId, client, "a client record is its own client")
        XCTAssertEqual(item.clientAlias, "C-0650")
        XCTAssertEqual(Set(item.options.map(\.label)), ["On hold", "Discharged"])
        x.p.conflicts.resolve(item, choosing: try XCTUnwrap(item.options.first { $0.value == "discharged" }))
        XCTAssertEqual(x.p.conflicts.count, 0)
        XCTAssertEqual(x.p.clients.clients.first?.status, .discharged)
        await syncBoth(x)
        XCTAssertEqual(x.t.conflicts.count, 0)
        XCTAssertEqual(x.t.clients.clients.first?.status, .discharged)
    }

    func testConcurrentRiskOnANoteNamesItsClient() async throws {
        let (x, client) = try await pair(alias: "C-0660")
        let timeline = x.p.timeline(clientId: client)
        let noteId = try timeline.startNote(sessionId: try addSession(timeline), format: .soap)
        await syncBoth(x, rounds: 1)
        x.p.noteEditor(noteId: noteId).setRisk(si: .denied, hi: .notAssessed, note: "")
        x.t.noteEditor(noteId: noteId).setRisk(si: .passive, hi: .notAssessed, note: "")
        await syncBoth(x)
        let item = try XCTUnwrap(x.p.conflicts.items.first { $0.field == "risk.si" }, "\(x.p.conflicts.items)")
        XCTAssertEqual(item.recordId, noteId)
        XCTAssertEqual(item.recordKind, .note)
        XCTAssertEqual(item.clientId, client)
        XCTAssertEqual(item.clientAlias, "C-0660")
        XCTAssertEqual(item.title, "Suicidal ideation risk")
        XCTAssertEqual(Set(item.options.map(\.label)), ["Denied", "Passive"])
    }

    func testEditsOfALoggedRuptureOnTwoDevicesMerge() async throws {
        let (x, client) = try await pair(alias: "C-0670")
        let form = x.p.newRupture(clientId: client)
        form.toggle(.wdMinimalResponse)
        form.toggle(.misunderstanding as Precipitant)
        form.edit(.narrative, to: "Went quiet")
        let rupture = try form.save()
        await syncBoth(x, rounds: 1)

        // Offline: the phone swaps a marker; the tablet adds a precipitant and the client's rating.
        let onPhone = x.p.rupture(id: rupture)
        onPhone.toggle(.wdMinimalResponse)
        onPhone.toggle(.wdGivingUp)
        try onPhone.saveChanges()
        let onTablet = x.t.rupture(id: rupture)
        onTablet.toggle(.externalEvent as Precipitant)
        onTablet.clientReportedIntensity = 4
        XCTAssertEqual(onTablet.pendingUpdate, RuptureUpdate(clientReportedIntensity: 4, addPrecipitants: [.externalEvent]))
        try onTablet.saveChanges()
        // Unsaved corrections on the phone survive the sync's reload.
        onPhone.toggle(.misunderstanding as Precipitant)
        onPhone.initiatedBy = .both
        await syncBoth(x)

        for f in [onPhone, onTablet] {
            XCTAssertEqual(f.markers, [.wdGivingUp])
            XCTAssertEqual(f.clientReportedIntensity, 4)
        }
        XCTAssertEqual(onTablet.precipitants, [.misunderstanding, .externalEvent])
        XCTAssertEqual(onPhone.precipitants, [.externalEvent], "the tablet's addition, and the phone's unsaved removal")
        XCTAssertEqual(onPhone.initiatedBy, .both)
        XCTAssertEqual(onPhone.pendingUpdate, RuptureUpdate(initiatedBy: .both, removePrecipitants: [.misunderstanding]))
        try onPhone.saveChanges()
        await syncBoth(x, rounds: 1)
        XCTAssertEqual(onTablet.precipitants, [.externalEvent])
        XCTAssertEqual(onTablet.initiatedBy, .both)
        XCTAssertEqual(x.p.conflicts.items, [], "set edits merge without a conflict")
    }

    /// Each intermediate text while typing `insert` at scalar `offset` of `text`, one character
    /// at a time.
    func keystrokes(_ text: String, inserting insert: String, at offset: Int) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var before = String(String.UnicodeScalarView(scalars[..<offset]))
        let after = String(String.UnicodeScalarView(scalars[offset...]))
        return insert.map { ch in
            before.append(ch)
            return before + after
        }
    }

    func testTwoDevicesTypeOneRuptureNarrativeOfflineAndConverge() async throws {
        let (x, client) = try await pair(alias: "C-0675")
        let form = x.p.newRupture(clientId: client)
        form.toggle(.wdMinimalResponse)
        form.edit(.narrative, to: "Went quiet")
        let rupture = try form.save()
        await syncBoth(x, rounds: 1)
        let onPhone = x.p.rupture(id: rupture)
        let onTablet = x.t.rupture(id: rupture)
        XCTAssertEqual(onTablet.narrative, "Went quiet")

        // Offline, keystroke by keystroke: the phone types at the end, the tablet replaces the
        // first letter and types at the start; each also types into another text.
        for t in keystrokes("Went quiet", inserting: " after the homework review", at: 10) { onPhone.edit(.narrative, to: t) }
        onTablet.edit(.narrative, to: "ent quiet")
        for t in keystrokes("ent quiet", inserting: "The client w", at: 0) { onTablet.edit(.narrative, to: t) }
        for t in keystrokes("", inserting: "Ask how the review landed", at: 0) { onPhone.edit(.followUpNote, to: t) }
        for t in keystrokes("", inserting: "“What's the point?”", at: 0) { onTablet.edit(.clientWords, to: t) }
        XCTAssertEqual(onPhone.narrative, "Went quiet after the homework review")
        XCTAssertEqual(onTablet.narrative, "The client went quiet")
        XCTAssertNil(onPhone.errorMessage)
        XCTAssertNil(onTablet.errorMessage)

        await syncBoth(x)
        let merged = "The client went quiet after the homework review"
        for (f, s) in [(onPhone, x.p), (onTablet, x.t)] {
            XCTAssertEqual(f.narrative, merged, "the open form shows the merged text")
            XCTAssertEqual(f.followUpNote, "Ask how the review landed")
            XCTAssertEqual(f.clientWords, "“What's the point?”")
            XCTAssertEqual(try s.context.vault().rupture(id: rupture).narrative, merged)
        }
        XCTAssertEqual(x.p.conflicts.items, [], "typing merges without a conflict")

        // Typing goes on from the merged text on both devices.
        onPhone.edit(.narrative, to: merged + ".")
        await syncBoth(x, rounds: 1)
        XCTAssertEqual(onTablet.narrative, merged + ".")
    }

    func testAVoidOnOneDeviceReachesTheOther() async throws {
        let (x, client) = try await pair(alias: "C-0680")
        let form = x.p.newRupture(clientId: client)
        form.toggle(.cfRejectsIntervention)
        form.edit(.narrative, to: "Objected to the homework")
        let rupture = try form.save()
        await syncBoth(x, rounds: 1)
        let onTablet = x.t.rupture(id: rupture)
        let tabletTimeline = x.t.timeline(clientId: client)
        XCTAssertEqual(tabletTimeline.unresolvedRuptureIds, [rupture])
        onTablet.significance = 5
        XCTAssertTrue(onTablet.hasUnsavedChanges)

        try form.voidRupture(reason: "Entered under the wrong client")
        await syncBoth(x)

        XCTAssertTrue(onTablet.isVoided, "the open form on the tablet saw the void")
        XCTAssertFalse(onTablet.isEditable)
        XCTAssertEqual(onTablet.voided?.reason, "Entered under the wrong client")
        XCTAssertEqual(onTablet.voided?.by, "clinician-phone")
        XCTAssertFalse(onTablet.voidedByMe)
        XCTAssertEqual(onTablet.significance, 3, "its unsaved correction was dropped")
        XCTAssertNil(onTablet.pendingUpdate)
        XCTAssertEqual(onTablet.narrative, "Objected to the homework", "still readable")
        XCTAssertEqual(tabletTimeline.unresolvedRuptureIds, [])
        XCTAssertEqual(tabletTimeline.rows.first { $0.id == rupture }?.isVoided, true)
        XCTAssertEqual(tabletTimeline.ruptureCount, 0)

        // The tablet's Mend refuses edits too.
        onTablet.edit(.narrative, to: "Objected to the homework twice")
        guard case .validation(field: "rupture", reason: _)? = onTablet.lastError else {
            return XCTFail("\(String(describing: onTablet.lastError))")
        }
        XCTAssertEqual(onTablet.narrative, "Objected to the homework")
        XCTAssertThrowsError(try onTablet.setStatus(.resolved))
        await syncBoth(x, rounds: 1)
        XCTAssertEqual(form.narrative, "Objected to the homework")
        XCTAssertEqual(form.status, .unaddressed)
    }

    func testLateEditsToASignedNoteBecomeAnAddendum() async throws {
        let (x, client) = try await pair()
        let timeline = x.p.timeline(clientId: client)
        let noteId = try timeline.startNote(sessionId: try addSession(timeline), format: .soap)
        let phoneEditor = x.p.noteEditor(noteId: noteId)
        phoneEditor.edit("subjective", to: "Reports better sleep")
        await syncBoth(x, rounds: 1)

        let tabletEditor = x.t.noteEditor(noteId: noteId)
        tabletEditor.edit("plan", to: "late thought")
        phoneEditor.sign()
        XCTAssertEqual(phoneEditor.state, .signed)
        await syncBoth(x)

        let divergence = try XCTUnwrap(phoneEditor.divergence, "the phone sees the tablet's late edit")
        XCTAssertEqual(divergence.sections.map(\.section), ["plan"])
        XCTAssertEqual(phoneEditor.text("plan"), "", "the signed note is unchanged")
        XCTAssertTrue(timeline.rows.contains { if case .note(_, _, diverged: true) = $0.kind { true } else { false } })
        let addendum = try XCTUnwrap(phoneEditor.keepDivergenceAsAddendum())
        XCTAssertNil(phoneEditor.divergence)
        XCTAssertEqual(phoneEditor.addenda.map(\.id), [addendum])
        XCTAssertTrue(phoneEditor.addenda[0].body.contains("late thought"))
        phoneEditor.signAddendum(addendum)
        XCTAssertTrue(phoneEditor.addenda[0].signed)
    }

    func testDevicesAreListedAndALostOneRevoked() async throws {
        let (x, _) = try await pair()
        await syncBoth(x, rounds: 1)
        let settings = x.p.settings
        XCTAssertEqual(settings.devices.map(\.id), [x.p.deviceId, x.t.deviceId], "in join order")
        XCTAssertEqual(settings.devices.map(\.isThisDevice), [true, false])
        let tablet = try XCTUnwrap(settings.devices.first { !$0.isThisDevice })

        settings.revoke(settings.devices[0])
        XCTAssertNotNil(settings.errorMessage, "this device cannot revoke itself")
        settings.revoke(tablet)
        XCTAssertNil(settings.errorMessage)
        XCTAssertEqual(settings.devices.first { $0.id == tablet.id }?.revoked, true)
    }

    func testDeviceNamesSyncToTheListAndTheConflictInbox() async throws {
        let (x, client) = try await pair(alias: "C-0690")
        let phoneShort = "Device …" + String(x.p.deviceId.suffix(6))
        XCTAssertEqual(x.p.settings.devices.map(\.label), [phoneShort, "Device …" + String(x.t.deviceId.suffix(6))],
                       "unnamed devices show a short id")
        x.t.settings.deviceName = "Clinic iPad"
        XCTAssertTrue(x.t.settings.saveDeviceName())
        XCTAssertEqual(x.t.settings.thisDevice?.label, "Clinic iPad")

        // A conflict made after naming: the phone attributes the tablet's value by name.
        let form = x.p.newRupture(clientId: client)
        form.toggle(.wdDenial)
        let rupture = try form.save()
        await syncBoth(x)
        let list = x.p.settings.devices
        XCTAssertEqual(list.map(\.label), [phoneShort, "Clinic iPad"], "the name reached the phone")
        XCTAssertEqual(list.map(\.isThisDevice), [true, false])
        let joined = try list.map { try XCTUnwrap($0.addedAt, "join date") }
        XCTAssertLessThanOrEqual(joined[0], joined[1])
        XCTAssertEqual(x.t.settings.devices.map(\.label), [phoneShort, "Clinic iPad"])

        let onPhone = x.p.rupture(id: rupture)
        onPhone.significance = 4
        try onPhone.saveChanges()
        let onTablet = x.t.rupture(id: rupture)
        onTablet.significance = 2
        try onTablet.saveChanges()
        await syncBoth(x)
        let item = try XCTUnwrap(x.p.conflicts.items.first)
        XCTAssertEqual(item.options.first { $0.value == "2" }?.device, "Clinic iPad")
        XCTAssertEqual(item.options.first { $0.value == "4" }?.device, "This device")
        XCTAssertEqual(x.t.conflicts.items.first?.options.first { $0.value == "4" }?.device, phoneShort)

        // Renamed later, the new name wins everywhere.
        x.t.settings.deviceName = "Home iPad"
        XCTAssertTrue(x.t.settings.saveDeviceName())
        await syncBoth(x)
        XCTAssertEqual(x.p.settings.devices.last?.name, "Home iPad")
    }
}

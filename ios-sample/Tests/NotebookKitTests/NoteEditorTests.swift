// The note editor: live typing stored as minimal splices and reloadable after a relaunch, signing
// locking the note (edits then give `noteLocked`), addenda, and late edits from another device.
import Foundation
import XCTest
import Mend
@testable import NotebookKit

final class NoteEditorTests: NotebookTestCase {
    func testSplicesAreMinimalAndCountUTF16Units() async {
        XCTAssertNil(TextSplice(from: "same", to: "same"))
        XCTAssertEqual(TextSplice(from: "", to: "abc"), TextSplice(position: 0, delete: 0, insert: "abc"))
        XCTAssertEqual(TextSplice(from: "Slept badly", to: "Slept very badly"), TextSplice(position: 6, delete: 0, insert: "very "))
        XCTAssertEqual(TextSplice(from: "Slept badly", to: "Slept"), TextSplice(position: 5, delete: 6, insert: ""))
        XCTAssertEqual(TextSplice(from: "abc", to: "aXc"), TextSplice(position: 1, delete: 1, insert: "X"))
        // "!" after "OK 👍🏽" (two surrogate pairs) is at 7, the end, as NSRange counts, not 5.
        XCTAssertEqual(TextSplice(from: "OK 👍🏽", to: "OK 👍🏽!"), TextSplice(position: 7, delete: 0, insert: "!"))
        // "é" as e + combining accent is two units; a flag emoji is two regional indicators, four units.
        XCTAssertEqual(TextSplice(from: "cafe\u{301} ok", to: "cafe\u{301} 🇨🇦 ok"), TextSplice(position: 6, delete: 0, insert: "🇨🇦 "))
        XCTAssertEqual(TextSplice(from: "a🇨🇦b", to: "ab"), TextSplice(position: 1, delete: 4, insert: ""))
        // A ZWJ family is eight units; CJK one unit each.
        XCTAssertEqual(TextSplice(from: "A👨‍👩‍👧B", to: "AB"), TextSplice(position: 1, delete: 8, insert: ""))
        XCTAssertEqual(TextSplice(from: "漢字", to: "漢・字"), TextSplice(position: 1, delete: 0, insert: "・"))
        // Pairs sharing a high (😀 😁) or a low (😀 🈀) surrogate are replaced whole, never cut.
        XCTAssertEqual(TextSplice(from: "x😀", to: "x😁"), TextSplice(position: 1, delete: 2, insert: "😁"))
        XCTAssertEqual(TextSplice(from: "😀y", to: "🈀y"), TextSplice(position: 0, delete: 2, insert: "🈀"))
        // Repeated characters: the prefix wins, the suffix never overlaps it.
        XCTAssertEqual(TextSplice(from: "aaa", to: "aaaa"), TextSplice(position: 3, delete: 0, insert: "a"))
        XCTAssertEqual(TextSplice(from: "abab", to: "ab"), TextSplice(position: 2, delete: 2, insert: ""))
        XCTAssertEqual(TextSplice(from: "abc", to: ""), TextSplice(position: 0, delete: 3, insert: ""))
    }

    func testTypingAroundEmojiAccentsAndCJKStoresWhatTheTextViewShows() async throws {
        let (_, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let noteId = try timeline.startNote(sessionId: try addSession(timeline), format: .birp)
        let editor = s.noteEditor(noteId: noteId)
        // Each text as a text view reports it after a keystroke, in order.
        let steps = [
            "OK 👍🏽", "OK 👍🏽!", "OK 👍!", "OK 👍🏿!",
            "OK 👍🏿! 👨‍👩‍👧", "OK 👍🏿! 👨‍👩‍👧 cafe\u{301}", "OK 👍🏿! 👨‍👩‍👧 café",
            "漢OK 👍🏿! 👨‍👩‍👧 café字", "漢OK 👍🏿!  café字", "漢字",
        ]
        for text in steps {
            editor.edit("behavior", to: text)
            XCTAssertNil(editor.errorMessage, text)
            let stored = try s.context.vault().note(id: noteId).sections.first { $0.key == "behavior" }?.text
            XCTAssertEqual(stored, text)
        }
    }

    func testLiveTypingIsStoredAndSurvivesARelaunch() async throws {
        let (d, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let noteId = try timeline.startNote(sessionId: try addSession(timeline), format: .birp)
        let editor = s.noteEditor(noteId: noteId)
        XCTAssertEqual(editor.sections.map(\.id), ["behavior", "intervention", "response", "plan"])
        XCTAssertEqual(editor.sections.map(\.title), ["Behavior", "Intervention", "Response", "Plan"])

        // Keystroke by keystroke, including a correction in the middle and non-ASCII text.
        var typed = ""
        for ch in "Quiet, arms folded" {
            typed.append(ch)
            editor.edit("behavior", to: typed)
        }
        editor.edit("behavior", to: "Quiet, arms crossed")
        editor.edit("behavior", to: "Quiet, arms crossed — café 🙂")
        editor.edit("plan", to: "Revisit next week")
        XCTAssertNil(editor.errorMessage)

        // A second editor of the same note reads what Mend stored.
        let other = s.noteEditor(noteId: noteId)
        XCTAssertEqual(other.text("behavior"), "Quiet, arms crossed — café 🙂")

        d.app.lock()
        await d.app.unlock()
        let reopened = try d.session.noteEditor(noteId: noteId)
        XCTAssertEqual(reopened.text("behavior"), "Quiet, arms crossed — café 🙂")
        XCTAssertEqual(reopened.text("plan"), "Revisit next week")
        XCTAssertEqual(reopened.format, .birp)
        XCTAssertEqual(reopened.state, .draft)
    }

    func testEveryFormatHasItsSections() async throws {
        let (_, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let session = try addSession(timeline)
        for format in [NoteFormat.soap, .dap, .birp, .girp, .free] {
            let editor = s.noteEditor(noteId: try timeline.startNote(sessionId: session, format: format))
            XCTAssertEqual(editor.sections.map(\.id), format.sectionKeys)
            editor.edit(format.sectionKeys[0], to: "x")
            XCTAssertNil(editor.lastError, "\(format)")
        }
        XCTAssertEqual(timeline.rows.filter { if case .note = $0.kind { true } else { false } }.count, 5)
    }

    func testSigningLocksTheNoteAndEditsGiveNoteLocked() async throws {
        let (_, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let noteId = try timeline.startNote(sessionId: try addSession(timeline), format: .soap)
        let editor = s.noteEditor(noteId: noteId)

        editor.sign()
        XCTAssertEqual(editor.state, .draft, "an empty note is not signed")
        XCTAssertNotNil(editor.errorMessage)

        editor.edit("subjective", to: "Reports poor sleep")
        editor.setRisk(si: .denied, hi: .denied, note: "")
        editor.sign()
        XCTAssertEqual(editor.state, .signed)
        XCTAssertFalse(editor.isEditable)
        XCTAssertEqual(editor.signatures.first?.signerName, "Dr. phone")
        XCTAssertEqual(editor.risk.si, .denied)

        editor.edit("subjective", to: "Reports poor sleep, changed later")
        XCTAssertEqual(editor.lastError, .noteLocked(noteId: noteId))
        XCTAssertEqual(editor.text("subjective"), "Reports poor sleep", "the refused edit is rolled back")
        XCTAssertFalse(editor.errorMessage?.contains("changed later") ?? true, "messages never echo note text")
        XCTAssertEqual(s.noteEditor(noteId: noteId).text("subjective"), "Reports poor sleep")

        // The timeline shows the new state.
        guard case let .note(_, state, _) = try XCTUnwrap(timeline.rows.first { $0.id == noteId }).kind else { return XCTFail() }
        XCTAssertEqual(state, "signed")
    }

    func testAddendaAreValidatedAddedAndSigned() async throws {
        let (_, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let editor = s.noteEditor(noteId: try timeline.startNote(sessionId: try addSession(timeline), format: .dap))
        editor.edit("data", to: "Attended on time")

        editor.addendumDraft.reason = "late detail"
        editor.addendumDraft.body = "Also discussed work."
        XCTAssertThrowsError(try editor.addAddendum(), "a draft is edited directly") { error in
            XCTAssertEqual((error as? FormErrors)?.errors.first?.field, "note")
        }
        editor.sign()
        editor.addendumDraft = AddendumDraft()
        XCTAssertThrowsError(try editor.addAddendum()) { error in
            XCTAssertEqual((error as? FormErrors)?.errors.map(\.field), ["reason", "body"])
        }
        editor.addendumDraft.kind = .clarification
        editor.addendumDraft.reason = "late detail"
        editor.addendumDraft.body = "Also discussed work."
        editor.addendumDraft.targets = ["plan"]
        let addendum = try editor.addAddendum()
        XCTAssertEqual(editor.addenda.map(\.id), [addendum])
        XCTAssertEqual(editor.addenda.first?.kind, .clarification)
        XCTAssertFalse(editor.addenda[0].signed)
        XCTAssertEqual(editor.addendumDraft, AddendumDraft(), "the draft is cleared")
        editor.signAddendum(addendum)
        XCTAssertTrue(editor.addenda[0].signed)
        XCTAssertEqual(editor.text("data"), "Attended on time", "the signed content is unchanged")
    }

    func testCosignForASuperviseeNote() async throws {
        let (d, s, client) = try await notebookWithClient()
        let timeline = s.timeline(clientId: client)
        let editor = s.noteEditor(noteId: try timeline.startNote(sessionId: try addSession(timeline), format: .free))
        editor.edit("body", to: "Supervisee note")
        editor.sign(needsCosign: true)
        XCTAssertEqual(editor.state, .pendingCosign)
        XCTAssertFalse(editor.isEditable)
        d.clock.advance(by: 3600)
        editor.cosign()
        XCTAssertEqual(editor.state, .cosigned)
        XCTAssertEqual(editor.signatures.count, 2)
    }
}

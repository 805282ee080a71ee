// The note editor: one text area per section of the note's format (SOAP, DAP, BIRP, GIRP, free),
// saved as you type; the risk assessment; signing (with a confirmation, because a signed note can
// only be amended by addenda); addenda; late edits from another device after signing.
import NotebookKit
import SwiftUI

/// Note editor screen.
struct NoteEditorView: View {
    @Bindable var model: NoteEditorModel
    @State private var confirmingSign = false
    @State private var writingAddendum = false
    @State private var riskNote = ""

    var body: some View {
        Form {
            if let divergence = model.divergence {
                Section {
                    ForEach(divergence.sections, id: \.section) { d in
                        VStack(alignment: .leading, spacing: 4) {
                            Text(NoteSectionInfo.title(d.section)).font(.caption.bold())
                            Text(d.current).font(.callout)
                        }
                    }
                    if divergence.otherFields { Text("Structured fields differ too.").font(.footnote) }
                    Button("Keep as an addendum") { model.keepDivergenceAsAddendum() }
                    Button("Discard the late edits", role: .destructive) { model.discardDivergence() }
                } header: {
                    Text("Late edits from another device")
                } footer: {
                    Text("These were typed on a device that had not yet seen your signature. The signed note is unchanged.")
                }
            }

            ForEach(model.sections) { section in
                Section(section.title) {
                    ZStack(alignment: .topLeading) {
                        if section.text.isEmpty {
                            Text(section.prompt).foregroundStyle(.tertiary).padding(.top, 8).padding(.leading, 5)
                        }
                        TextEditor(text: Binding(
                            get: { model.text(section.id) },
                            set: { model.edit(section.id, to: $0) }))
                            .frame(minHeight: 110)
                            .disabled(!model.isEditable)
                    }
                }
            }

            Section("Risk") {
                Picker("Suicidal ideation", selection: Binding(
                    get: { model.risk.si },
                    set: { model.setRisk(si: $0, hi: model.risk.hi, note: model.risk.note) })) {
                    ForEach(RiskLevel.all, id: \.self) { Text($0.label).tag($0) }
                }
                Picker("Homicidal ideation", selection: Binding(
                    get: { model.risk.hi },
                    set: { model.setRisk(si: model.risk.si, hi: $0, note: model.risk.note) })) {
                    ForEach(RiskLevel.all, id: \.self) { Text($0.label).tag($0) }
                }
                TextField("Risk note", text: $riskNote, axis: .vertical)
                    .onSubmit { model.setRisk(si: model.risk.si, hi: model.risk.hi, note: riskNote) }
            }
            .disabled(!model.isEditable)

            if !model.signatures.isEmpty {
                Section("Signatures") {
                    ForEach(Array(model.signatures.enumerated()), id: \.offset) { _, s in
                        VStack(alignment: .leading) {
                            Text("\(s.signerName) · \(s.meaning == .cosigned ? "co-signed" : "signed")")
                            Text(Date(mendMillis: s.signedAt).listStyle).font(.caption).foregroundStyle(.secondary)
                        }
                    }
                }
            }

            if !model.isEditable {
                Section("Addenda") {
                    ForEach(model.addenda, id: \.id) { a in
                        VStack(alignment: .leading, spacing: 4) {
                            Text("\(a.kind.label) — \(a.reason)").font(.subheadline.bold())
                            Text(a.body)
                            if a.signed {
                                Label("Signed", systemImage: "checkmark.seal").font(.caption)
                            } else {
                                Button("Sign addendum") { model.signAddendum(a.id) }
                            }
                        }
                    }
                    Button("Add an addendum", systemImage: "plus") { writingAddendum = true }
                }
            }

            if let message = model.errorMessage { FieldErrorText(text: message) }
        }
        .navigationTitle("\(model.format.label) · \(model.state.label)")
        .navigationBarTitleDisplayMode(.inline)
        .onAppear { riskNote = model.risk.note }
        .toolbar {
            ToolbarItem(placement: .primaryAction) {
                if model.state == .draft {
                    Button("Sign") { confirmingSign = true }
                } else if model.state == .pendingCosign {
                    Button("Co-sign") { model.cosign() }
                }
            }
        }
        .confirmationDialog("Sign this note?", isPresented: $confirmingSign, titleVisibility: .visible) {
            Button("Sign") { model.sign() }
            Button("Sign, needs co-signature") { model.sign(needsCosign: true) }
        } message: {
            Text("After signing, the note can no longer be edited; changes go into addenda.")
        }
        .sheet(isPresented: $writingAddendum) { AddendumSheet(model: model) }
    }
}

/// Writing an addendum to a signed note.
struct AddendumSheet: View {
    @Bindable var model: NoteEditorModel
    @Environment(\.dismiss) private var dismiss
    @State private var message: String?

    var body: some View {
        NavigationStack {
            Form {
                Picker("Kind", selection: $model.addendumDraft.kind) {
                    ForEach(AddendumKind.all, id: \.self) { Text($0.label).tag($0) }
                }
                TextField("Reason", text: $model.addendumDraft.reason)
                Section("Addendum") {
                    TextEditor(text: $model.addendumDraft.body).frame(minHeight: 140)
                }
                Section("Amends") {
                    ForEach(model.format.sectionKeys, id: \.self) { key in
                        Toggle(NoteSectionInfo.title(key), isOn: Binding(
                            get: { model.addendumDraft.targets.contains(key) },
                            set: { on in
                                if on { model.addendumDraft.targets.insert(key) } else { model.addendumDraft.targets.remove(key) }
                            }))
                    }
                }
                FieldErrorText(text: message)
            }
            .navigationTitle("Addendum")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Add") {
                        do { try model.addAddendum(); dismiss() } catch { message = UserMessage.describe(error) }
                    }
                    .disabled(!model.addendumDraft.errors.isEmpty)
                }
            }
        }
    }
}

package org.mend.sample.ui

import androidx.compose.runtime.Composable
import androidx.navigation.NavType
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.rememberNavController
import androidx.navigation.navArgument
import org.mend.core.RecordKind
import org.mend.notebook.Notebook
import org.mend.sample.MendApp

/** The unlocked notebook's screens. Made anew at each unlock, so no screen outlives its notebook. */
@Composable
fun NotebookNavHost(app: MendApp, notebook: Notebook) {
    val nav = rememberNavController()
    val back: () -> Unit = { nav.popBackStack() }
    NavHost(navController = nav, startDestination = "clients") {
        composable("clients") {
            ClientListScreen(
                notebook,
                openClient = { nav.navigate("timeline/$it") },
                openConflicts = { nav.navigate("conflicts") },
                openSync = { nav.navigate("sync") },
                openSettings = { nav.navigate("settings") },
            )
        }
        composable("timeline/{clientId}", listOf(navArgument("clientId") { type = NavType.StringType })) { entry ->
            val clientId = entry.arguments?.getString("clientId") ?: return@composable
            TimelineScreen(
                notebook, clientId, onBack = back,
                openNote = { nav.navigate("note/$it") },
                openRupture = { id -> nav.navigate("rupture/$clientId?id=${id ?: ""}") },
            )
        }
        composable("note/{noteId}", listOf(navArgument("noteId") { type = NavType.StringType })) { entry ->
            val noteId = entry.arguments?.getString("noteId") ?: return@composable
            NoteEditorScreen(notebook, noteId, onBack = back)
        }
        composable(
            "rupture/{clientId}?id={id}",
            listOf(
                navArgument("clientId") { type = NavType.StringType },
                navArgument("id") { type = NavType.StringType; defaultValue = "" },
            ),
        ) { entry ->
            val clientId = entry.arguments?.getString("clientId") ?: return@composable
            val id = entry.arguments?.getString("id")?.takeIf { it.isNotEmpty() }
            RuptureFormScreen(notebook, clientId, id, onBack = back)
        }
        composable("conflicts") {
            ConflictInboxScreen(notebook, onBack = back) { row ->
                when (row.recordKind) {
                    RecordKind.CLIENT -> nav.navigate("timeline/${row.clientId}")
                    RecordKind.NOTE -> nav.navigate("note/${row.recordId}")
                    RecordKind.RUPTURE -> nav.navigate("rupture/${row.clientId}?id=${row.recordId}")
                    else -> {}
                }
            }
        }
        composable("sync") { SyncStatusScreen(app, notebook, onBack = back) }
        composable("settings") { SettingsScreen(app, notebook, onBack = back) }
    }
}

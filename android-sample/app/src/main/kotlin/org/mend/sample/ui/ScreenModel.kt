package org.mend.sample.ui

import android.app.Application
import androidx.compose.runtime.Composable
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.ViewModelProvider.AndroidViewModelFactory.Companion.APPLICATION_KEY
import androidx.lifecycle.viewModelScope
import androidx.lifecycle.viewmodel.compose.viewModel
import kotlinx.coroutines.Job
import kotlinx.coroutines.launch
import org.mend.notebook.Notebook
import org.mend.notebook.NotebookViewModel
import org.mend.sample.MendApp

/**
 * The AndroidViewModel wrapper of a notebook-core view model: keeps it across configuration
 * changes, refreshes it from the notebook's change flow in viewModelScope, and launches its
 * suspend actions there. All logic stays in notebook-core, where it is tested on the JVM.
 */
class ScreenModel<T : NotebookViewModel>(app: Application, make: (MendApp) -> T) : AndroidViewModel(app) {
    /** The notebook-core view model. */
    val core: T = make(app as MendApp)

    init {
        core.observeChanges(viewModelScope)
        viewModelScope.launch { core.refresh() }
    }

    /** Runs an action of [core] in viewModelScope. */
    fun launch(action: suspend T.() -> Unit): Job = viewModelScope.launch { core.action() }
}

/**
 * The [ScreenModel] for this screen. Keyed by the notebook, so unlocking again (a new notebook)
 * never reuses a view model that holds the closed one.
 */
@Composable
inline fun <reified T : NotebookViewModel> screenModel(notebook: Notebook, id: String = "", noinline make: (MendApp) -> T): ScreenModel<T> =
    viewModel(key = "${T::class.java.name}/$id/${System.identityHashCode(notebook)}") {
        ScreenModel(this[APPLICATION_KEY]!!, make)
    }

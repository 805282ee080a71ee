package org.mend.sample.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.ExperimentalLayoutApi
import androidx.compose.foundation.layout.FlowRow
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.padding
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FilterChip
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Scaffold
import androidx.compose.material3.SnackbarHost
import androidx.compose.material3.SnackbarHostState
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.RowScope
import org.mend.notebook.NotebookViewModel

/** A screen's frame: a top bar with an optional back arrow and actions, and a snackbar for the
 *  view model's errors (their messages never contain clinical text). */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun NotebookScaffold(
    title: String,
    model: NotebookViewModel,
    onBack: (() -> Unit)? = null,
    actions: @Composable RowScope.() -> Unit = {},
    floatingActionButton: @Composable () -> Unit = {},
    content: @Composable (PaddingValues) -> Unit,
) {
    val snackbar = remember { SnackbarHostState() }
    val error by model.error.collectAsStateWithLifecycle()
    LaunchedEffect(error) {
        error?.let {
            snackbar.showSnackbar(it.message ?: "Something went wrong")
            model.dismissError()
        }
    }
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(title) },
                navigationIcon = {
                    if (onBack != null) {
                        IconButton(onClick = onBack) { Icon(Icons.AutoMirrored.Filled.ArrowBack, contentDescription = "Back") }
                    }
                },
                actions = actions,
            )
        },
        snackbarHost = { SnackbarHost(snackbar) },
        floatingActionButton = floatingActionButton,
        content = content,
    )
}

/** A titled group of toggle chips for an enum set (3RS markers, precipitants, strategies…);
 *  [enabled] false shows the choice read-only. */
@OptIn(ExperimentalLayoutApi::class)
@Composable
fun <T> ChipGroup(
    title: String,
    options: List<T>,
    selected: Set<T>,
    label: (T) -> String,
    error: String? = null,
    enabled: Boolean = true,
    onToggle: (T) -> Unit,
) {
    Text(title, style = MaterialTheme.typography.titleSmall, modifier = Modifier.padding(top = 12.dp))
    FlowRow(horizontalArrangement = Arrangement.spacedBy(6.dp)) {
        options.forEach { option ->
            FilterChip(selected = option in selected, onClick = { onToggle(option) }, label = { Text(label(option)) }, enabled = enabled)
        }
    }
    FieldError(error)
}

/** A single choice among an enum's values, as chips. */
@Composable
fun <T> SingleChoice(
    title: String,
    options: List<T>,
    selected: T?,
    label: (T) -> String,
    error: String? = null,
    enabled: Boolean = true,
    onSelect: (T) -> Unit,
) = ChipGroup(title, options, setOfNotNull(selected), label, error, enabled) { onSelect(it) }

/** A 1–5 rating as five chips. */
@Composable
fun Rating(title: String, value: Int?, error: String? = null, enabled: Boolean = true, onChange: (Int) -> Unit) {
    Text(title, style = MaterialTheme.typography.titleSmall, modifier = Modifier.padding(top = 12.dp))
    Row(horizontalArrangement = Arrangement.spacedBy(6.dp)) {
        (1..5).forEach { n -> FilterChip(selected = value == n, onClick = { onChange(n) }, label = { Text("$n") }, enabled = enabled) }
    }
    FieldError(error)
}

/** A date for headings, in the device's locale and time zone. */
fun formatDate(millis: Long): String =
    java.text.DateFormat.getDateInstance(java.text.DateFormat.MEDIUM).format(java.util.Date(millis))

/** A field's error message, if any. */
@Composable
fun FieldError(error: String?) {
    if (error != null) Text(error, color = MaterialTheme.colorScheme.error, style = MaterialTheme.typography.bodySmall)
}

/** A date and time for lists, in the device's locale and time zone. */
fun formatTime(millis: Long): String =
    java.text.DateFormat.getDateTimeInstance(java.text.DateFormat.MEDIUM, java.text.DateFormat.SHORT).format(java.util.Date(millis))

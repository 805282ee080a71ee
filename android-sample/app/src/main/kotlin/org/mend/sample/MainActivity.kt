package org.mend.sample

import android.os.Bundle
import android.view.MotionEvent
import android.view.KeyEvent
import android.view.WindowManager
import androidx.activity.compose.setContent
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.fragment.app.FragmentActivity
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.repeatOnLifecycle
import kotlinx.coroutines.launch
import org.mend.notebook.LockState
import org.mend.sample.ui.MendTheme
import org.mend.sample.ui.NotebookNavHost
import org.mend.sample.ui.UnlockScreen

/**
 * The single activity. A FragmentActivity because BiometricPrompt needs one. Shows the unlock
 * screen while locked and the notebook's screens while unlocked; every touch and key press is
 * reported to the gate as activity, and a ticker locks the notebook after the idle timeout.
 */
class MainActivity : FragmentActivity() {
    private val app get() = application as MendApp

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // Clinical content stays out of screenshots and the recent-apps thumbnail.
        window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)

        lifecycleScope.launch {
            repeatOnLifecycle(Lifecycle.State.STARTED) { app.gate.watchInactivity() }
        }

        setContent {
            MendTheme {
                val state by app.gate.state.collectAsStateWithLifecycle()
                when (val s = state) {
                    is LockState.Unlocked -> {
                        LaunchedEffect(s.notebook) { org.mend.sample.sync.SyncWorker.syncSoon(this@MainActivity) }
                        NotebookNavHost(app, s.notebook)
                    }
                    else -> UnlockScreen(app, this, s)
                }
            }
        }
    }

    override fun dispatchTouchEvent(ev: MotionEvent): Boolean {
        app.gate.touch()
        return super.dispatchTouchEvent(ev)
    }

    override fun dispatchKeyEvent(event: KeyEvent): Boolean {
        app.gate.touch()
        return super.dispatchKeyEvent(event)
    }
}

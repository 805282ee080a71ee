package org.mend.sample.ui

import androidx.compose.foundation.Canvas
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.Path
import androidx.compose.ui.graphics.PathEffect
import androidx.compose.ui.graphics.drawscope.Stroke
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.unit.dp
import org.mend.core.AlliancePoint
import org.mend.notebook.AllianceChart
import org.mend.notebook.AllianceDrop
import org.mend.notebook.AllianceSeries

private fun AllianceSeries.color(primary: Color): Color = when (this) {
    AllianceSeries.TOTAL -> primary
    AllianceSeries.TASK -> Color(0xFF2E7D32)
    AllianceSeries.BOND -> Color(0xFFC62828)
    AllianceSeries.GOAL -> Color(0xFF6A1B9A)
}

/**
 * The WAI-SR alliance trend drawn with Compose Canvas: the total as a thick line, the task,
 * bond and goal subscales as thin dashed ones, gaps at incomplete administrations, and a marker
 * under each flagged drop. The geometry comes from notebook-core's [AllianceChart] (tested on
 * the JVM); this only draws it.
 */
@Composable
fun AllianceTrendChart(trend: List<AlliancePoint>, drops: List<AllianceDrop>, modifier: Modifier = Modifier) {
    val primary = MaterialTheme.colorScheme.primary
    val grid = MaterialTheme.colorScheme.outlineVariant
    val alert = MaterialTheme.colorScheme.error
    val described = trend.mapNotNull { it.total }.joinToString()
    Column(modifier) {
        Canvas(
            Modifier.fillMaxWidth().height(160.dp).semantics { contentDescription = "Alliance totals over time: $described" },
        ) {
            val pad = 8.dp.toPx()
            // Grid lines at a quarter, half and three quarters of each range.
            listOf(0.25f, 0.5f, 0.75f).forEach { f ->
                val y = pad + (size.height - 2 * pad) * f
                drawLine(grid, Offset(pad, y), Offset(size.width - pad, y), strokeWidth = 1f)
            }
            val layout = AllianceChart.layout(trend, size.width, size.height, pad)
            layout.lines.forEach { (series, runs) ->
                val stroke = if (series == AllianceSeries.TOTAL) {
                    Stroke(width = 3.dp.toPx())
                } else {
                    Stroke(width = 1.5.dp.toPx(), pathEffect = PathEffect.dashPathEffect(floatArrayOf(8f, 6f)))
                }
                runs.forEach { run ->
                    val path = Path()
                    run.forEachIndexed { i, p -> if (i == 0) path.moveTo(p.x, p.y) else path.lineTo(p.x, p.y) }
                    drawPath(path, series.color(primary), style = stroke)
                    run.forEach { p -> drawCircle(series.color(primary), radius = stroke.width * 1.2f, center = Offset(p.x, p.y)) }
                }
            }
            val sorted = trend.sortedBy { it.administeredAt }
            drops.forEach { d ->
                val i = sorted.indexOfFirst { it.measureId == d.toMeasureId }
                if (i >= 0 && i < layout.xs.size) {
                    drawCircle(alert, radius = 5.dp.toPx(), center = Offset(layout.xs[i], size.height - pad))
                }
            }
        }
        Row(horizontalArrangement = Arrangement.spacedBy(12.dp)) {
            AllianceSeries.entries.forEach { s ->
                Text("${s.label} (${s.min}–${s.max})", color = s.color(primary), style = MaterialTheme.typography.labelSmall)
            }
        }
    }
}

package org.mend.notebook

import org.mend.core.AlliancePoint

/** A point on the chart, in pixels from the top-left corner. */
data class ChartPoint(val x: Float, val y: Float)

/** One line of the alliance chart: the WAI-SR total or a subscale. */
enum class AllianceSeries(val label: String, val min: Long, val max: Long) {
    TOTAL("Total", 12, 60),
    TASK("Task", 4, 20),
    BOND("Bond", 4, 20),
    GOAL("Goal", 4, 20),
}

/** The chart's geometry: a polyline per series (a gap splits a line where a point is incomplete)
 *  and the x positions of every administration. */
data class AllianceChartLayout(
    val lines: Map<AllianceSeries, List<List<ChartPoint>>>,
    val xs: List<Float>,
)

/**
 * Lays out the alliance-trend chart that the Compose Canvas draws: x by administration date,
 * y by score, each series scaled over its own range (total 12–60, subscales 4–20) so they share
 * one plot. Pure arithmetic, so it is tested on the JVM.
 */
object AllianceChart {
    /** Lays [trend] (any order) out in a [width]×[height] box inset by [padding] on each side. */
    fun layout(trend: List<AlliancePoint>, width: Float, height: Float, padding: Float = 0f): AllianceChartLayout {
        val points = trend.sortedBy { it.administeredAt }
        if (points.isEmpty() || width <= 2 * padding || height <= 2 * padding) {
            return AllianceChartLayout(AllianceSeries.entries.associateWith { emptyList() }, emptyList())
        }
        val first = points.first().administeredAt
        val span = (points.last().administeredAt - first).toFloat()
        val plotW = width - 2 * padding
        val plotH = height - 2 * padding
        val xs = points.map { p ->
            if (span == 0f) padding + plotW / 2 else padding + plotW * ((p.administeredAt - first) / span)
        }
        val lines = AllianceSeries.entries.associateWith { series ->
            val runs = mutableListOf<MutableList<ChartPoint>>()
            var current: MutableList<ChartPoint>? = null
            points.forEachIndexed { i, p ->
                val v = value(p, series)
                if (v == null) {
                    current = null
                } else {
                    val clamped = v.coerceIn(series.min, series.max)
                    val fraction = (clamped - series.min).toFloat() / (series.max - series.min)
                    val point = ChartPoint(xs[i], padding + plotH * (1 - fraction))
                    (current ?: mutableListOf<ChartPoint>().also { runs.add(it); current = it }).add(point)
                }
            }
            runs.map { it.toList() }
        }
        return AllianceChartLayout(lines, xs)
    }

    /** A point's score for [series], or null when incomplete. */
    fun value(p: AlliancePoint, series: AllianceSeries): Long? = when (series) {
        AllianceSeries.TOTAL -> p.total
        AllianceSeries.TASK -> p.task
        AllianceSeries.BOND -> p.bond
        AllianceSeries.GOAL -> p.goal
    }
}

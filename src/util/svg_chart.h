// Line charts as inline SVG for the HTML reports: no script and no canvas, so a chart shows in any
// browser, offline, and in a file mailed around. One chart: a plot area with "nice" ticks (1, 2, 5 x
// 10^k), one polyline per series (a non-finite point breaks the line; a lone point is a dot), vertical
// marks at given x values (the steps where training warnings fired) and a legend.
//
// The markup carries what a test needs to check the rendering: <svg class="chart"
// data-series="N">, <rect class="plot"> for the plot area, one <path class="series"> or
// <circle class="series"> group per series (data-name), <line class="mark"> per mark.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace prefer {

struct ChartSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y); x ascending; y may be NaN (a gap)
  std::string color;                              // CSS colour; empty: from the palette by index
  bool dashed = false;                            // eval series are drawn dashed over train ones
};

struct ChartMark {
  double x = 0;
  std::string label;  // short, drawn at the top ("1", "2" ...)
  std::string title;  // the tooltip: the warning's text
};

struct ChartOptions {
  std::string title;
  std::string x_label = "step";
  int width = 460;
  int height = 250;
};

// Ticks covering [lo, hi]: about `target` values, each a multiple of 1, 2 or 5 x 10^k, the first <= lo
// and the last >= hi. lo == hi widens to a unit interval around the value.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

// A tick as it is printed: at most 4 significant digits, exponent form beyond 1e5 or below 1e-3.
std::string tick_label(double v);

std::string svg_line_chart(const std::vector<ChartSeries>& series, const std::vector<ChartMark>& marks, const ChartOptions& options);

// The palette series take by index: distinguishable, also in grey print.
const std::string& chart_color(size_t i);

}  // namespace prefer

#include "util/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/strings.h"

namespace prefer {
namespace {

constexpr int kLeft = 58, kRight = 14, kTop = 30, kBottom = 38, kLegendRow = 18;

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// Legend entries laid out left to right, wrapping at the chart's width (about 6.5 px a character at
// 11 px). Returns each entry's (x, row).
std::vector<std::pair<double, int>> legend_layout(const std::vector<ChartSeries>& series, int width) {
  std::vector<std::pair<double, int>> at;
  double x = kLeft;
  int row = 0;
  for (const ChartSeries& s : series) {
    const double w = 26 + 6.5 * static_cast<double>(s.name.size()) + 12;
    if (x + w > width - kRight && x > kLeft) {
      x = kLeft;
      ++row;
    }
    at.emplace_back(x, row);
    x += w;
  }
  return at;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (hi < lo) std::swap(lo, hi);
  if (!(hi > lo)) {
    const double d = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  const auto first = static_cast<int64_t>(std::floor(lo / step + 1e-9));
  const auto last = static_cast<int64_t>(std::ceil(hi / step - 1e-9));
  std::vector<double> t;
  for (int64_t k = first; k <= last; ++k) t.push_back(static_cast<double>(k) * step);
  return t;
}

std::string tick_label(double v) {
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (a >= 1e5 || a < 1e-3) return fmt::format("{:.3g}", v);
  if (a >= 1000) return fmt::format("{:.0f}", v);
  return fmt::format("{:.4g}", v);
}

const std::string& chart_color(size_t i) {
  static const std::vector<std::string> palette = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                                   "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  return palette[i % palette.size()];
}

std::string svg_line_chart(const std::vector<ChartSeries>& series, const std::vector<ChartMark>& marks, const ChartOptions& o) {
  Range xr, yr;
  for (const ChartSeries& s : series)
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      xr.add(x);
      yr.add(y);
    }
  for (const ChartMark& m : marks) xr.add(m.x);
  if (xr.empty()) xr = {0, 1};
  if (yr.empty()) yr = {0, 1};
  const std::vector<double> xt = nice_ticks(xr.lo, xr.hi, 6), yt = nice_ticks(yr.lo, yr.hi, 5);
  const double x0 = xt.front(), x1 = xt.back(), y0 = yt.front(), y1 = yt.back();

  const auto legend = legend_layout(series, o.width);
  const int rows = legend.empty() ? 0 : legend.back().second + 1;
  const int height = o.height + rows * kLegendRow + 4;  // the legend sits below the x-axis label
  const double pw = o.width - kLeft - kRight, ph = o.height - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return kTop + (1 - (y - y0) / (y1 - y0)) * ph; };

  std::string s = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "data-series=\"{2}\" role=\"img\" font-family=\"sans-serif\" font-size=\"11\">\n<title>{3}</title>\n",
      o.width, height, series.size(), escape_html(o.title));
  s += fmt::format("<text x=\"{}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>\n", kLeft, escape_html(o.title));
  s += fmt::format("<rect class=\"plot\" x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#fff\" stroke=\"#999\"/>\n", kLeft, kTop,
                   pw, ph);
  for (double v : yt) {
    const double y = py(v);
    s += fmt::format("<line x1=\"{}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>", kLeft, kLeft + pw, y, y);
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" fill=\"#444\">{}</text>\n", kLeft - 4, y + 4, tick_label(v));
  }
  for (double v : xt) {
    const double x = px(v);
    s += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{:.1f}\" stroke=\"#f0f0f0\"/>", x, x, kTop, kTop + ph);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#444\">{}</text>\n", x, kTop + ph + 14, tick_label(v));
  }
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#444\">{}</text>\n", kLeft + pw / 2, kTop + ph + 30,
                   escape_html(o.x_label));
  for (const ChartMark& m : marks) {
    if (!std::isfinite(m.x)) continue;
    const double x = px(m.x);
    s += fmt::format("<g class=\"mark\"><title>{}</title><line class=\"mark\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{:.1f}\" "
                     "stroke=\"#c00\" stroke-dasharray=\"3 3\"/><text x=\"{:.1f}\" y=\"{}\" fill=\"#c00\" text-anchor=\"middle\">{}</text></g>\n",
                     escape_html(m.title), x, x, kTop, kTop + ph, x, kTop - 2, escape_html(m.label));
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const ChartSeries& c = series[i];
    const std::string& color = c.color.empty() ? chart_color(i) : c.color;
    std::string d, dots;
    bool pen = false;
    for (size_t k = 0; k < c.points.size(); ++k) {
      const auto [x, y] = c.points[k];
      if (!std::isfinite(x) || !std::isfinite(y)) {
        pen = false;
        continue;
      }
      const bool prev = k > 0 && std::isfinite(c.points[k - 1].second) && std::isfinite(c.points[k - 1].first);
      const bool next = k + 1 < c.points.size() && std::isfinite(c.points[k + 1].second) && std::isfinite(c.points[k + 1].first);
      if (!prev && !next) dots += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>", px(x), py(y), color);
      d += fmt::format("{}{:.1f} {:.1f}", pen ? " L" : (d.empty() ? "M" : " M"), px(x), py(y));
      pen = true;
    }
    s += fmt::format("<g class=\"series\" data-name=\"{}\"><title>{}</title>", escape_html(c.name), escape_html(c.name));
    if (!d.empty())
      s += fmt::format("<path class=\"series\" d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\"{}/>", d, color,
                       c.dashed ? " stroke-dasharray=\"5 3\"" : "");
    s += dots + "</g>\n";
    const auto [lx, row] = legend[i];
    const double ly = o.height + 8 + row * kLegendRow;
    s += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"2\"{}/>"
                     "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#222\">{}</text>\n",
                     lx, lx + 20, ly - 4, ly - 4, color, c.dashed ? " stroke-dasharray=\"5 3\"" : "", lx + 24, ly, escape_html(c.name));
  }
  return s + "</svg>\n";
}

}  // namespace prefer

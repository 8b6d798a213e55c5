#include "util/svg_chart.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>

namespace prefer {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// The numbers of the first path's d attribute, in order.
std::vector<double> path_numbers(const std::string& svg) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(svg, m, std::regex("<path class=\"series\" d=\"([^\"]*)\"")));
  std::vector<double> v;
  std::string d = m[1];
  std::regex num("-?[0-9]+(\\.[0-9]+)?");
  for (auto it = std::sregex_iterator(d.begin(), d.end(), num); it != std::sregex_iterator(); ++it) v.push_back(std::stod(it->str()));
  return v;
}

}  // namespace

TEST(SvgChart, NiceTicksAreMultiplesOfOneTwoOrFiveCoveringTheRange) {
  EXPECT_EQ(nice_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(nice_ticks(1, 100, 5), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  EXPECT_EQ(nice_ticks(-0.37, 0.61, 5), (std::vector<double>{-2 * 0.2, -0.2, 0, 0.2, 2 * 0.2, 3 * 0.2, 4 * 0.2}));  // k x step
  const std::vector<double> t = nice_ticks(0.6931, 0.6932, 5);
  EXPECT_LE(t.front(), 0.6931);
  EXPECT_GE(t.back(), 0.6932);
  EXPECT_LE(t.size(), 8u);
  // A constant series still gets an axis around its value.
  const std::vector<double> c = nice_ticks(3, 3);
  EXPECT_LT(c.front(), 3);
  EXPECT_GT(c.back(), 3);
  EXPECT_EQ(nice_ticks(0, 0).front(), -1);
}

TEST(SvgChart, TickLabels) {
  EXPECT_EQ(tick_label(0), "0");
  EXPECT_EQ(tick_label(0.2000000000000000111), "0.2");
  EXPECT_EQ(tick_label(12000), "12000");
  EXPECT_EQ(tick_label(2e-5), "2e-05");
  EXPECT_EQ(tick_label(-1.5), "-1.5");
  EXPECT_EQ(tick_label(250000), "2.5e+05");
}

TEST(SvgChart, PointsMapOntoThePlotAreaAndGapsBreakTheLine) {
  // x ticks 0..10, y ticks 0..1: the plot spans x 58..(460-14), y 30..(250-38).
  ChartSeries s{.name = "loss", .points = {{0, 1}, {5, 0.5}, {10, 0}}};
  const std::string svg = svg_line_chart({s}, {}, {.title = "loss"});
  const std::vector<double> v = path_numbers(svg);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_NEAR(v[0], 58, 0.05);
  EXPECT_NEAR(v[1], 30, 0.05);
  EXPECT_NEAR(v[2], 58 + 0.5 * 388, 0.05);
  EXPECT_NEAR(v[3], 30 + 0.5 * 182, 0.05);
  EXPECT_NEAR(v[4], 446, 0.05);
  EXPECT_NEAR(v[5], 212, 0.05);
  EXPECT_NE(svg.find("data-series=\"1\""), std::string::npos);
  EXPECT_EQ(count(svg, "<rect class=\"plot\""), 1u);

  // A NaN between points starts a new subpath; a point alone between gaps is a dot.
  ChartSeries g{.name = "eval", .points = {{0, 1}, {1, 2}, {2, NAN}, {3, 1}, {4, NAN}, {5, 2}, {6, 3}}};
  const std::string gs = svg_line_chart({g}, {}, {});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(gs, m, std::regex("d=\"([^\"]*)\"")));
  EXPECT_EQ(count(m[1], "M"), 3u);
  EXPECT_EQ(count(gs, "<circle"), 1u);
}

TEST(SvgChart, MarksSeriesAndLegendAreEscapedAndCounted) {
  std::vector<ChartSeries> s = {{.name = "rewards/chosen", .points = {{1, 0.1}, {2, 0.2}}},
                                {.name = "eval <rewards>", .points = {{2, 0.3}}, .dashed = true}};
  const std::string svg = svg_line_chart(s, {{.x = 2, .label = "1", .title = "margins \"flat\" & falling"}}, {.title = "a < b"});
  EXPECT_NE(svg.find("data-series=\"2\""), std::string::npos);
  EXPECT_EQ(count(svg, "<g class=\"series\""), 2u);
  EXPECT_EQ(count(svg, "<line class=\"mark\""), 1u);
  EXPECT_NE(svg.find("margins &quot;flat&quot; &amp; falling"), std::string::npos);
  EXPECT_NE(svg.find("eval &lt;rewards&gt;"), std::string::npos);
  EXPECT_NE(svg.find("<title>a &lt; b</title>"), std::string::npos);
  EXPECT_EQ(svg.find("<rewards>"), std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray=\"5 3\""), std::string::npos);
  // No data: still a valid chart with its plot area.
  const std::string empty = svg_line_chart({}, {}, {.title = "nothing"});
  EXPECT_NE(empty.find("data-series=\"0\""), std::string::npos);
  EXPECT_NE(empty.find("</svg>"), std::string::npos);
}

}  // namespace prefer

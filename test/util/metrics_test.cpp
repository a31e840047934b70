#include "common/util/metrics.h"

#include <memory>
#include <stdexcept>
#include <thread>

#include <doctest.h>

using pocket::util::MetricsRegistry;

TEST_CASE("counters render with their labels in label order") {
  MetricsRegistry registry;
  auto& relays = registry.counter("edge_relays_total", "Relays by outcome.", {"service", "outcome"});
  relays.with({"eth", "ok"}).inc(3);
  relays.with({"anvil", "bad_signature"}).inc();
  std::string text = registry.render();
  CHECK(text ==
        "# HELP edge_relays_total Relays by outcome.\n"
        "# TYPE edge_relays_total counter\n"
        "edge_relays_total{service=\"anvil\",outcome=\"bad_signature\"} 1\n"
        "edge_relays_total{service=\"eth\",outcome=\"ok\"} 3\n");
}

TEST_CASE("a series reference stays the same series") {
  MetricsRegistry registry;
  auto& family = registry.counter("c_total", "c", {"k"});
  auto& a = family.with({"x"});
  auto& b = family.with({"x"});
  CHECK(&a == &b);
  CHECK(&registry.counter("c_total", "c", {"k"}) == &family);
}

TEST_CASE("histograms are cumulative with +Inf, sum and count") {
  MetricsRegistry registry;
  auto& h = registry.histogram("lat_seconds", "Latency.", {}, {0.1, 1}).with();
  h.observe(0.05);
  h.observe(0.1);
  h.observe(0.5);
  h.observe(7);
  std::string text = registry.render();
  CHECK(text.find("lat_seconds_bucket{le=\"0.1\"} 2\n") != std::string::npos);
  CHECK(text.find("lat_seconds_bucket{le=\"1\"} 3\n") != std::string::npos);
  CHECK(text.find("lat_seconds_bucket{le=\"+Inf\"} 4\n") != std::string::npos);
  CHECK(text.find("lat_seconds_sum 7.65\n") != std::string::npos);
  CHECK(text.find("lat_seconds_count 4\n") != std::string::npos);
}

TEST_CASE("gauges, function gauges and label escaping") {
  MetricsRegistry registry;
  registry.gauge("g", "g", {"path"}).with({"a\"b\\c\nd"}).set(2.5);
  registry.gaugeFunction("link_up", "Link state.", [] { return 1.0; });
  std::string text = registry.render();
  CHECK(text.find("g{path=\"a\\\"b\\\\c\\nd\"} 2.5\n") != std::string::npos);
  CHECK(text.find("# TYPE link_up gauge\nlink_up 1\n") != std::string::npos);
}

TEST_CASE("misuse is refused") {
  MetricsRegistry registry;
  registry.counter("x_total", "x", {"a"});
  CHECK_THROWS_AS(registry.gauge("x_total", "x"), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("9bad", "x"), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("x_total", "x", {"a"}).with({"1", "2"}), std::invalid_argument);
}

TEST_CASE("function counters render as counters and read their source at every scrape") {
  MetricsRegistry registry;
  std::uint64_t source = 3;
  registry.counterFunction("link_connects_total", "Connections.", [&source] { return source; });
  CHECK(registry.render() ==
        "# HELP link_connects_total Connections.\n# TYPE link_connects_total counter\n"
        "link_connects_total 3\n");
  source = 12345678901234;
  CHECK(registry.render().find("link_connects_total 12345678901234\n") != std::string::npos);
}

TEST_CASE("a function registered again under its name is the one read (a component re-created)") {
  MetricsRegistry registry;
  {
    auto first = std::make_unique<std::uint64_t>(1);
    registry.counterFunction("restarts_total", "Restarts.", [p = first.get()] { return *p; });
    registry.gaugeFunction("in_flight", "In flight.", [p = first.get()] { return double(*p); });
  }  // the first owner is gone: its readers must not be called again
  std::uint64_t second = 7;
  registry.counterFunction("restarts_total", "Restarts.", [&second] { return second; });
  registry.gaugeFunction("in_flight", "In flight.", [&second] { return double(second); });
  std::string text = registry.render();
  CHECK(text.find("restarts_total 7\n") != std::string::npos);
  CHECK(text.find("in_flight 7\n") != std::string::npos);
}

TEST_CASE("names that break the Prometheus conventions are refused at registration") {
  MetricsRegistry registry;
  CHECK_THROWS_WITH_AS(registry.counter("relays", "x"), doctest::Contains("must end in _total"),
                       std::invalid_argument);
  CHECK_THROWS_AS(registry.counterFunction("relays", "x", [] { return std::uint64_t{0}; }),
                  std::invalid_argument);
  CHECK_THROWS_WITH_AS(registry.gauge("queue_total", "x"),
                       doctest::Contains("only a counter's name may end in _total"),
                       std::invalid_argument);
  CHECK_THROWS_AS(registry.gaugeFunction("queue_total", "x", [] { return 0.0; }),
                  std::invalid_argument);
  CHECK_THROWS_AS(registry.histogram("lat_seconds_total", "x", {}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(registry.histogram("lat_count", "x", {}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(registry.histogram("lat_seconds", "x", {"le"}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("x_total", "x", {"__reserved"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("x_total", "x", {"bad-label"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("x_total", "x", {"0label"}), std::invalid_argument);
  // Nothing of the refused registrations is rendered.
  CHECK(registry.render().empty());
}

TEST_CASE("concurrent increments are all counted") {
  MetricsRegistry registry;
  auto& c = registry.counter("n_total", "n").with();
  std::thread t1([&] {
    for (int i = 0; i < 10000; ++i) c.inc();
  });
  std::thread t2([&] {
    for (int i = 0; i < 10000; ++i) c.inc();
  });
  t1.join();
  t2.join();
  CHECK(c.value() == 20000);
}

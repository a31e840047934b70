#pragma once
// Prometheus text exposition (format 0.0.4): counters, gauges and histograms, each in a family with
// fixed label names, for every binary that serves /metrics (relay-edge today, the session manager
// next). docs/operator-guide.md lists the edge's metrics.
//
// Naming follows the Prometheus conventions, and registration enforces the parts a typo would
// break (std::invalid_argument otherwise): names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]* without a leading "__"; a counter's name ends in `_total` and nothing
// else's does; a histogram's name does not end in `_bucket`, `_sum` or `_count` and has no `le`
// label. Values are in base units (seconds, bytes), which the name says (`_seconds`, `_bytes`).
//
// Ownership: main() builds one MetricsRegistry and hands it to the components; families and their
// series live as long as the registry, so a `Counter&` or `Histogram&` obtained at setup time may be
// cached and used on the hot path without any lookup.
// Threading: updating a series is a relaxed atomic operation (no lock). Creating a series and
// rendering take the registry's lock; rendering reads the atomics without stopping writers, so a
// scrape sees each value at some moment during the scrape.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pocket::util {

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `upperBounds` must be sorted ascending; a +Inf bucket is implied.
  explicit Histogram(const std::vector<double>& upperBounds);
  void observe(double v);
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& upperBounds() const { return bounds_; }
  // Observations <= upperBounds()[i] (not cumulative); index bounds.size() is the +Inf bucket.
  std::uint64_t bucket(std::size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, from 100 µs to 30 s.
std::vector<double> latencyBucketsSeconds();

enum class MetricType { counter, gauge, histogram };

// A named metric with fixed label names and one series per distinct label values.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> labels)
      : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)) {}
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& labelNames() const { return labels_; }
  virtual MetricType type() const = 0;
  // Appends the family's HELP, TYPE and sample lines.
  virtual void render(std::string& out) const = 0;

 protected:
  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
};

template <class Series>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::vector<double> upperBounds = {})
      : FamilyBase(std::move(name), std::move(help), std::move(labels)),
        upperBounds_(std::move(upperBounds)) {}

  // The series for these label values (as many as the family's label names; throws
  // std::invalid_argument otherwise), created on first use. The reference stays valid as long as
  // the family. Takes a lock: resolve series at setup time and keep the reference.
  Series& with(const std::vector<std::string>& labelValues);
  Series& with() { return with(std::vector<std::string>{}); }

  MetricType type() const override;
  void render(std::string& out) const override;

 private:
  std::vector<double> upperBounds_;  // histograms only
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
};

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Names and labels follow the rules at the top of this file. A second call with the same name and
  // type returns the existing family; the same name with another type throws
  // std::invalid_argument.
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> labels = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> labels = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> labels, std::vector<double> upperBounds);
  // A gauge whose value is read by `read` at every scrape (must be thread-safe and cheap). A
  // second call with the same name replaces the reader: a component created again over the same
  // registry (a restart inside one process) is the one read, never the one destroyed.
  void gaugeFunction(const std::string& name, const std::string& help, std::function<double()> read);
  // A counter kept by a component (an atomic it already maintains), read by `read` at every
  // scrape; `read` must be thread-safe, cheap and never decrease.
  void counterFunction(const std::string& name, const std::string& help,
                       std::function<std::uint64_t()> read);

  // The whole exposition, families in name order, series in label order.
  std::string render() const;

 private:
  template <class F, class... Args>
  F& getOrCreate(const std::string& name, MetricType type, Args&&... args);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;
};

// Escapes a label value for the text format (backslash, double quote, newline).
std::string escapeLabelValue(std::string_view value);

}  // namespace pocket::util

#include "common/util/metrics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace pocket::util {

namespace {

bool validLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

// The Prometheus naming rules registration enforces (see metrics.h).
void checkNaming(const std::string& name, MetricType type, const std::vector<std::string>& labels) {
  bool total = name.ends_with("_total");
  if (type == MetricType::counter && !total) {
    throw std::invalid_argument("counter " + name + ": a counter's name must end in _total");
  }
  if (type != MetricType::counter && total) {
    throw std::invalid_argument("metric " + name + ": only a counter's name may end in _total");
  }
  if (type == MetricType::histogram &&
      (name.ends_with("_bucket") || name.ends_with("_sum") || name.ends_with("_count"))) {
    throw std::invalid_argument("histogram " + name +
                                ": the name may not end in _bucket, _sum or _count");
  }
  for (const auto& label : labels) {
    if (!validLabelName(label)) {
      throw std::invalid_argument("metric " + name + ": invalid label name '" + label + "'");
    }
    if (type == MetricType::histogram && label == "le") {
      throw std::invalid_argument("histogram " + name + ": 'le' is reserved for buckets");
    }
  }
}

bool validName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

// `{a="x",b="y"}` plus an optional extra label (le for histogram buckets); empty when no labels.
std::string labelBlock(const std::vector<std::string>& names, const std::vector<std::string>& values,
                       std::string_view extraName = {}, std::string_view extraValue = {}) {
  if (names.empty() && extraName.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += escapeLabelValue(values[i]);
    out += '"';
  }
  if (!extraName.empty()) {
    if (!names.empty()) out += ',';
    out += extraName;
    out += "=\"";
    out += extraValue;
    out += '"';
  }
  out += '}';
  return out;
}

void header(std::string& out, const std::string& name, const std::string& help,
            std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

class FunctionCounter final : public FamilyBase {
 public:
  FunctionCounter(std::string name, std::string help, std::function<std::uint64_t()> read)
      : FamilyBase(std::move(name), std::move(help), {}), read_(std::move(read)) {}
  // Called with the registry's lock held, as render() is.
  void replaceReader(std::function<std::uint64_t()> read) { read_ = std::move(read); }
  MetricType type() const override { return MetricType::counter; }
  void render(std::string& out) const override {
    header(out, name_, help_, "counter");
    out += name_;
    out += ' ';
    out += fmt::format("{}", read_());
    out += '\n';
  }

 private:
  std::function<std::uint64_t()> read_;
};

class FunctionGauge final : public FamilyBase {
 public:
  FunctionGauge(std::string name, std::string help, std::function<double()> read)
      : FamilyBase(std::move(name), std::move(help), {}), read_(std::move(read)) {}
  // Called with the registry's lock held, as render() is.
  void replaceReader(std::function<double()> read) { read_ = std::move(read); }
  MetricType type() const override { return MetricType::gauge; }
  void render(std::string& out) const override {
    header(out, name_, help_, "gauge");
    out += name_;
    out += ' ';
    out += formatValue(read_());
    out += '\n';
  }

 private:
  std::function<double()> read_;
};

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Histogram::Histogram(const std::vector<double>& upperBounds)
    : bounds_(upperBounds), buckets_(new std::atomic<std::uint64_t>[upperBounds.size() + 1]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) {
    throw std::invalid_argument("histogram bounds must be sorted");
  }
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<double> latencyBucketsSeconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10,   30};
}

template <class Series>
Series& Family<Series>::with(const std::vector<std::string>& labelValues) {
  if (labelValues.size() != labels_.size()) {
    throw std::invalid_argument(fmt::format("metric {}: {} label values for {} label names", name_,
                                            labelValues.size(), labels_.size()));
  }
  std::lock_guard lock(mutex_);
  auto it = series_.find(labelValues);
  if (it != series_.end()) return *it->second;
  std::unique_ptr<Series> created;
  if constexpr (std::is_same_v<Series, Histogram>) {
    created = std::make_unique<Histogram>(upperBounds_);
  } else {
    created = std::make_unique<Series>();
  }
  Series& ref = *created;
  series_.emplace(labelValues, std::move(created));
  return ref;
}

template <>
MetricType Family<Counter>::type() const {
  return MetricType::counter;
}
template <>
MetricType Family<Gauge>::type() const {
  return MetricType::gauge;
}
template <>
MetricType Family<Histogram>::type() const {
  return MetricType::histogram;
}

template <>
void Family<Counter>::render(std::string& out) const {
  header(out, name_, help_, "counter");
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) {
    out += name_;
    out += labelBlock(labels_, values);
    out += ' ';
    out += fmt::format("{}", series->value());
    out += '\n';
  }
}

template <>
void Family<Gauge>::render(std::string& out) const {
  header(out, name_, help_, "gauge");
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) {
    out += name_;
    out += labelBlock(labels_, values);
    out += ' ';
    out += formatValue(series->value());
    out += '\n';
  }
}

template <>
void Family<Histogram>::render(std::string& out) const {
  header(out, name_, help_, "histogram");
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) {
    // Buckets are read one by one while writers go on; cumulating them and taking the total count
    // from the cumulation keeps the exposition self-consistent.
    std::uint64_t cumulative = 0;
    const auto& bounds = series->upperBounds();
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      cumulative += series->bucket(i);
      out += name_;
      out += "_bucket";
      out += labelBlock(labels_, values, "le", i < bounds.size() ? formatValue(bounds[i]) : "+Inf");
      out += ' ';
      out += fmt::format("{}", cumulative);
      out += '\n';
    }
    out += name_;
    out += "_sum";
    out += labelBlock(labels_, values);
    out += ' ';
    out += formatValue(series->sum());
    out += '\n';
    out += name_;
    out += "_count";
    out += labelBlock(labels_, values);
    out += ' ';
    out += fmt::format("{}", cumulative);
    out += '\n';
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <class F, class... Args>
F& MetricsRegistry::getOrCreate(const std::string& name, MetricType type, Args&&... args) {
  if (!validName(name)) throw std::invalid_argument("invalid metric name: " + name);
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    auto* existing = dynamic_cast<F*>(it->second.get());
    if (existing == nullptr || existing->type() != type) {
      throw std::invalid_argument("metric " + name + " already registered with another type");
    }
    return *existing;
  }
  auto created = std::make_unique<F>(name, std::forward<Args>(args)...);
  F& ref = *created;
  families_.emplace(name, std::move(created));
  return ref;
}

Family<Counter>& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                          std::vector<std::string> labels) {
  checkNaming(name, MetricType::counter, labels);
  return getOrCreate<Family<Counter>>(name, MetricType::counter, help, std::move(labels));
}

Family<Gauge>& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                      std::vector<std::string> labels) {
  checkNaming(name, MetricType::gauge, labels);
  return getOrCreate<Family<Gauge>>(name, MetricType::gauge, help, std::move(labels));
}

Family<Histogram>& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                              std::vector<std::string> labels,
                                              std::vector<double> upperBounds) {
  checkNaming(name, MetricType::histogram, labels);
  return getOrCreate<Family<Histogram>>(name, MetricType::histogram, help, std::move(labels),
                                        std::move(upperBounds));
}

void MetricsRegistry::gaugeFunction(const std::string& name, const std::string& help,
                                    std::function<double()> read) {
  checkNaming(name, MetricType::gauge, {});
  auto keep = read;
  auto& family = getOrCreate<FunctionGauge>(name, MetricType::gauge, help, std::move(read));
  std::lock_guard lock(mutex_);
  family.replaceReader(std::move(keep));
}

void MetricsRegistry::counterFunction(const std::string& name, const std::string& help,
                                      std::function<std::uint64_t()> read) {
  checkNaming(name, MetricType::counter, {});
  auto keep = read;
  auto& family = getOrCreate<FunctionCounter>(name, MetricType::counter, help, std::move(read));
  std::lock_guard lock(mutex_);
  family.replaceReader(std::move(keep));
}

std::string MetricsRegistry::render() const {
  std::string out;
  out.reserve(4096);
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) family->render(out);
  return out;
}

}  // namespace pocket::util

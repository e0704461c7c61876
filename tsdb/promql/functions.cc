// PromQL functions (Prometheus 2.42 promql/functions.go and quantile.go), Go math and formatting
// helpers, and label helpers with the semantics of Prometheus' labels package.
#include <re2/re2.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <unordered_map>

#include "tsdb/promql/internal/evaluator.h"

namespace tidemark::promql::internal {

void ThrowExec(std::string message) { throw EvalError{ErrorType::kExecution, std::move(message)}; }

// ---------------------------------------------------------------------------------------------
// Labels.

std::string LabelsKey(const Labels& ls) {
  std::string k;
  for (const Label& l : ls) {
    k += l.name;
    k += '\xff';
    k += l.value;
    k += '\xfe';
  }
  return k;
}

namespace {
bool KeptOn(const Label& l, bool on, const std::vector<std::string>& sorted_names) {
  const bool listed = std::binary_search(sorted_names.begin(), sorted_names.end(), l.name);
  return on ? listed : (!listed && l.name != "__name__");
}
}  // namespace

std::string SignatureOn(const Labels& ls, bool on, const std::vector<std::string>& sorted_names) {
  std::string k;
  for (const Label& l : ls) {
    if (!KeptOn(l, on, sorted_names)) continue;
    k += l.name;
    k += '\xff';
    k += l.value;
    k += '\xfe';
  }
  return k;
}

Labels LabelsOn(const Labels& ls, bool on, const std::vector<std::string>& sorted_names) {
  Labels out;
  if (on && sorted_names.empty()) return out;
  for (const Label& l : ls) {
    if (KeptOn(l, on, sorted_names)) out.push_back(l);
  }
  return out;
}

std::string LabelsString(const Labels& ls) {
  std::string s = "{";
  for (size_t i = 0; i < ls.size(); ++i) {
    if (i > 0) s += ", ";
    s += ls[i].name;
    s += '=';
    AppendGoQuoted(ls[i].value, &s);
  }
  s += '}';
  return s;
}

int CompareLabels(const Labels& a, const Labels& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i].name != b[i].name) return a[i].name < b[i].name ? -1 : 1;
    if (a[i].value != b[i].value) return a[i].value < b[i].value ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

Labels DropMetricName(const Labels& ls) {
  Labels out;
  out.reserve(ls.size());
  for (const Label& l : ls) {
    if (l.name != "__name__") out.push_back(l);
  }
  return out;
}

void DelLabel(Labels* ls, std::string_view name) {
  for (auto it = ls->begin(); it != ls->end(); ++it) {
    if (it->name == name) {
      ls->erase(it);
      return;
    }
  }
}

void SetLabel(Labels* ls, const std::string& name, const std::string& value) {
  if (value.empty()) {
    DelLabel(ls, name);
    return;
  }
  auto it = std::lower_bound(ls->begin(), ls->end(), name,
                             [](const Label& l, const std::string& n) { return l.name < n; });
  if (it != ls->end() && it->name == name) {
    it->value = value;
  } else {
    ls->insert(it, Label{name, value});
  }
}

// ---------------------------------------------------------------------------------------------
// Go math.

namespace {
// Go folds 1/Ln2 and 1/Ln10 exactly at compile time; `1 / M_LN2` would round twice.
constexpr double kInvLn2 = 1.442695040888963407359924681001892137426645954152985934135;
constexpr double kInvLn10 = 0.434294481903251827651128918916605082294397005803666566114;

bool IsOddInt(double x) {
  double xi;
  double xf = std::modf(x, &xi);
  return xf == 0 && std::fmod(xi, 2) != 0 && std::fabs(xi) < 9007199254740992.0;
}
}  // namespace

// Go's math.Pow (pure Go implementation; amd64 has no assembly for it).
double GoPow(double x, double y) {
  if (y == 0 || x == 1) return 1;
  if (y == 1) return x;
  if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0) {
    if (y < 0) {
      if (std::signbit(x) && IsOddInt(y)) return -HUGE_VAL;
      return HUGE_VAL;
    }
    if (y > 0) {
      if (std::signbit(x) && IsOddInt(y)) return x;
      return 0;
    }
  }
  if (std::isinf(y)) {
    if (x == -1) return 1;
    if ((std::fabs(x) < 1) == (y > 0)) return 0;
    return HUGE_VAL;
  }
  if (std::isinf(x)) {
    if (x < 0) return GoPow(1 / x, -y);
    if (y < 0) return 0;
    if (y > 0) return HUGE_VAL;
  }
  if (y == 0.5) return std::sqrt(x);
  if (y == -0.5) return 1 / std::sqrt(x);

  double yi;
  double yf = std::modf(std::fabs(y), &yi);
  if (yf != 0 && x < 0) return std::numeric_limits<double>::quiet_NaN();
  if (yi >= 9223372036854775808.0) {
    if (x == -1) return 1;
    if ((std::fabs(x) < 1) == (y > 0)) return 0;
    return HUGE_VAL;
  }
  double a1 = 1.0;
  int64_t ae = 0;
  if (yf != 0) {
    if (yf > 0.5) {
      yf--;
      yi++;
    }
    a1 = GoExp(yf * GoLog(x));
  }
  int xe_i;
  double x1 = std::frexp(x, &xe_i);
  int64_t xe = xe_i;
  for (int64_t i = static_cast<int64_t>(yi); i != 0; i >>= 1) {
    if (xe < -(1 << 12) || (1 << 12) < xe) {
      ae += xe;
      break;
    }
    if ((i & 1) == 1) {
      a1 *= x1;
      ae += xe;
    }
    x1 *= x1;
    xe <<= 1;
    if (x1 < .5) {
      x1 += x1;
      xe--;
    }
  }
  if (y < 0) {
    a1 = 1 / a1;
    ae = -ae;
  }
  if (ae > 100000) ae = 100000;
  if (ae < -100000) ae = -100000;
  return std::ldexp(a1, static_cast<int>(ae));
}

double GoMod(double x, double y) {
  if (y == 0 || std::isinf(x) || std::isnan(x) || std::isnan(y)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return std::fmod(x, y);
}

double GoMax(double x, double y) {
  if ((std::isinf(x) && x > 0) || (std::isinf(y) && y > 0)) return HUGE_VAL;
  if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0 && x == y) return std::signbit(x) ? y : x;
  return x > y ? x : y;
}

double GoMin(double x, double y) {
  if ((std::isinf(x) && x < 0) || (std::isinf(y) && y < 0)) return -HUGE_VAL;
  if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0 && x == y) return std::signbit(x) ? x : y;
  return x < y ? x : y;
}

double GoLog2(double x) {
  int e;
  double frac = std::frexp(x, &e);
  if (frac == 0.5) return static_cast<double>(e - 1);
  return GoLog(frac) * kInvLn2 + static_cast<double>(e);
}

double GoLog10(double x) { return GoLog(x) * kInvLn10; }

// ---------------------------------------------------------------------------------------------
// quantile.go

namespace {
bool NanFirstLess(double a, double b) {
  if (std::isnan(a)) return !std::isnan(b);
  return a < b;
}
}  // namespace

double Quantile(double q, std::vector<double> values) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  if (q < 0) return -HUGE_VAL;
  if (q > 1) return HUGE_VAL;
  std::sort(values.begin(), values.end(), NanFirstLess);
  double n = static_cast<double>(values.size());
  double rank = q * (n - 1);
  double lower = std::max(0.0, std::floor(rank));
  double upper = std::min(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  if (std::isnan(rank)) return std::numeric_limits<double>::quiet_NaN();
  return values[static_cast<size_t>(lower)] * (1 - weight) +
         values[static_cast<size_t>(upper)] * weight;
}

double BucketQuantile(double q, std::vector<Bucket> buckets) {
  if (std::isnan(q)) return std::numeric_limits<double>::quiet_NaN();
  if (q < 0) return -HUGE_VAL;
  if (q > 1) return HUGE_VAL;
  std::stable_sort(buckets.begin(), buckets.end(),
                   [](const Bucket& a, const Bucket& b) { return a.upper < b.upper; });
  if (!(std::isinf(buckets.back().upper) && buckets.back().upper > 0)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  // coalesceBuckets
  {
    Bucket last = buckets[0];
    size_t i = 0;
    for (size_t j = 1; j < buckets.size(); ++j) {
      if (buckets[j].upper == last.upper) {
        last.count += buckets[j].count;
      } else {
        buckets[i] = last;
        last = buckets[j];
        ++i;
      }
    }
    buckets[i] = last;
    buckets.resize(i + 1);
  }
  // ensureMonotonic
  {
    double max = -HUGE_VAL;
    for (Bucket& b : buckets) {
      if (b.count > max) {
        max = b.count;
      } else if (b.count < max) {
        b.count = max;
      }
    }
  }
  if (buckets.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  double observations = buckets.back().count;
  if (observations == 0) return std::numeric_limits<double>::quiet_NaN();
  double rank = q * observations;
  // sort.Search(len(buckets)-1, count >= rank)
  size_t lo = 0, hi = buckets.size() - 1;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (!(buckets[mid].count >= rank)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  size_t b = lo;
  if (b == buckets.size() - 1) return buckets[buckets.size() - 2].upper;
  if (b == 0 && buckets[0].upper <= 0) return buckets[0].upper;
  double bucket_start = 0;
  double bucket_end = buckets[b].upper;
  double count = buckets[b].count;
  if (b > 0) {
    bucket_start = buckets[b - 1].upper;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return bucket_start + (bucket_end - bucket_start) * (rank / count);
}

// ---------------------------------------------------------------------------------------------
// Range-vector functions.

namespace {

inline void KahanSumInc(double inc, double* sum, double* c) {
  double t = *sum + inc;
  if (std::fabs(*sum) >= std::fabs(inc)) {
    *c += (*sum - t) + inc;
  } else {
    *c += (inc - t) + *sum;
  }
  *sum = t;
}

bool ExtrapolatedRate(const RangeFnArgs& a, bool is_counter, bool is_rate, double* out) {
  const size_t n = a.t.size();
  if (n < 2) return false;
  // Saturated: a range or offset near the int64 limits must not overflow.
  const int64_t range_end = TimeSub(a.ts, a.offset_ms);
  const int64_t range_start = TimeSub(range_end, a.range_ms);
  double result = a.v[n - 1] - a.v[0];
  if (is_counter) {
    double prev = a.v[0];
    for (size_t i = 1; i < n; ++i) {
      if (a.v[i] < prev) result += prev;
      prev = a.v[i];
    }
  }
  double duration_to_start = static_cast<double>(a.t[0] - range_start) / 1000;
  double duration_to_end = static_cast<double>(range_end - a.t[n - 1]) / 1000;
  double sampled_interval = static_cast<double>(a.t[n - 1] - a.t[0]) / 1000;
  double avg_step = sampled_interval / static_cast<double>(n - 1);
  if (is_counter && result > 0 && a.v[0] >= 0) {
    double duration_to_zero = sampled_interval * (a.v[0] / result);
    if (duration_to_zero < duration_to_start) duration_to_start = duration_to_zero;
  }
  double threshold = avg_step * 1.1;
  double extrapolate_to = sampled_interval;
  extrapolate_to += duration_to_start < threshold ? duration_to_start : avg_step / 2;
  extrapolate_to += duration_to_end < threshold ? duration_to_end : avg_step / 2;
  double factor = extrapolate_to / sampled_interval;
  if (is_rate) factor /= static_cast<double>(a.range_ms) / 1000;
  *out = result * factor;
  return true;
}

bool FnRate(const RangeFnArgs& a, double* out) { return ExtrapolatedRate(a, true, true, out); }
bool FnIncrease(const RangeFnArgs& a, double* out) { return ExtrapolatedRate(a, true, false, out); }
bool FnDelta(const RangeFnArgs& a, double* out) { return ExtrapolatedRate(a, false, false, out); }

bool InstantValue(const RangeFnArgs& a, bool is_rate, double* out) {
  const size_t n = a.t.size();
  if (n < 2) return false;
  double last = a.v[n - 1], prev = a.v[n - 2];
  double result;
  if (is_rate && last < prev) {
    result = last;
  } else {
    result = last - prev;
  }
  int64_t sampled = a.t[n - 1] - a.t[n - 2];
  if (sampled == 0) return false;
  if (is_rate) result /= static_cast<double>(sampled) / 1000;
  *out = result;
  return true;
}
bool FnIrate(const RangeFnArgs& a, double* out) { return InstantValue(a, true, out); }
bool FnIdelta(const RangeFnArgs& a, double* out) { return InstantValue(a, false, out); }

void LinearRegression(const RangeFnArgs& a, int64_t intercept_time, double* slope,
                      double* intercept) {
  double n = 0, sum_x = 0, c_x = 0, sum_y = 0, c_y = 0, sum_xy = 0, c_xy = 0, sum_x2 = 0, c_x2 = 0;
  const double init_y = a.v[0];
  bool const_y = true;
  for (size_t i = 0; i < a.t.size(); ++i) {
    double v = a.v[i];
    if (const_y && i > 0 && v != init_y) const_y = false;
    n += 1.0;
    double x = static_cast<double>(a.t[i] - intercept_time) / 1e3;
    KahanSumInc(x, &sum_x, &c_x);
    KahanSumInc(v, &sum_y, &c_y);
    KahanSumInc(x * v, &sum_xy, &c_xy);
    KahanSumInc(x * x, &sum_x2, &c_x2);
  }
  if (const_y) {
    if (std::isinf(init_y)) {
      *slope = *intercept = std::numeric_limits<double>::quiet_NaN();
      return;
    }
    *slope = 0;
    *intercept = init_y;
    return;
  }
  sum_x += c_x;
  sum_y += c_y;
  sum_xy += c_xy;
  sum_x2 += c_x2;
  double cov_xy = sum_xy - sum_x * sum_y / n;
  double var_x = sum_x2 - sum_x * sum_x / n;
  *slope = cov_xy / var_x;
  *intercept = sum_y / n - *slope * sum_x / n;
}

bool FnDeriv(const RangeFnArgs& a, double* out) {
  if (a.t.size() < 2) return false;
  double slope, intercept;
  LinearRegression(a, a.t[0], &slope, &intercept);
  *out = slope;
  return true;
}

bool FnPredictLinear(const RangeFnArgs& a, double* out) {
  if (a.t.size() < 2) return false;
  double slope, intercept;
  LinearRegression(a, a.ts, &slope, &intercept);
  *out = slope * a.scalars[1] + intercept;
  return true;
}

bool FnResets(const RangeFnArgs& a, double* out) {
  if (a.t.empty()) return false;
  int resets = 0;
  double prev = a.v[0];
  for (size_t i = 1; i < a.v.size(); ++i) {
    if (a.v[i] < prev) ++resets;
    prev = a.v[i];
  }
  *out = resets;
  return true;
}

bool FnChanges(const RangeFnArgs& a, double* out) {
  if (a.t.empty()) return false;
  int changes = 0;
  double prev = a.v[0];
  for (size_t i = 1; i < a.v.size(); ++i) {
    double cur = a.v[i];
    if (cur != prev && !(std::isnan(cur) && std::isnan(prev))) ++changes;
    prev = cur;
  }
  *out = changes;
  return true;
}

bool FnAvgOverTime(const RangeFnArgs& a, double* out) {
  if (a.v.empty()) return false;
  double mean = 0, count = 0, c = 0;
  for (double v : a.v) {
    count++;
    if (std::isinf(mean)) {
      if (std::isinf(v) && (mean > 0) == (v > 0)) continue;
      if (!std::isinf(v) && !std::isnan(v)) continue;
    }
    KahanSumInc(v / count - mean / count, &mean, &c);
  }
  *out = std::isinf(mean) ? mean : mean + c;
  return true;
}

bool FnCountOverTime(const RangeFnArgs& a, double* out) {
  if (a.v.empty()) return false;
  *out = static_cast<double>(a.v.size());
  return true;
}

bool FnMaxOverTime(const RangeFnArgs& a, double* out) {
  if (a.v.empty()) return false;
  double max = a.v[0];
  for (double v : a.v) {
    if (v > max || std::isnan(max)) max = v;
  }
  *out = max;
  return true;
}

bool FnMinOverTime(const RangeFnArgs& a, double* out) {
  if (a.v.empty()) return false;
  double min = a.v[0];
  for (double v : a.v) {
    if (v < min || std::isnan(min)) min = v;
  }
  *out = min;
  return true;
}

bool FnSumOverTime(const RangeFnArgs& a, double* out) {
  if (a.v.empty()) return false;
  double sum = 0, c = 0;
  for (double v : a.v) KahanSumInc(v, &sum, &c);
  *out = std::isinf(sum) ? sum : sum + c;
  return true;
}

bool FnQuantileOverTime(const RangeFnArgs& a, double* out) {
  if (a.v.empty()) return false;
  *out = Quantile(a.scalars[0], std::vector<double>(a.v.begin(), a.v.end()));
  return true;
}

double StdVar(const RangeFnArgs& a) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  for (double v : a.v) {
    count++;
    double delta = v - (mean + c_mean);
    KahanSumInc(delta / count, &mean, &c_mean);
    KahanSumInc(delta * (v - (mean + c_mean)), &aux, &c_aux);
  }
  return (aux + c_aux) / count;
}

bool FnStddevOverTime(const RangeFnArgs& a, double* out) {
  if (a.v.empty()) return false;
  *out = std::sqrt(StdVar(a));
  return true;
}

bool FnStdvarOverTime(const RangeFnArgs& a, double* out) {
  if (a.v.empty()) return false;
  *out = StdVar(a);
  return true;
}

bool FnLastOverTime(const RangeFnArgs& a, double* out) {
  if (a.v.empty()) return false;
  *out = a.v.back();
  return true;
}

bool FnPresentOverTime(const RangeFnArgs& a, double* out) {
  if (a.v.empty()) return false;
  *out = 1;
  return true;
}

bool FnHoltWinters(const RangeFnArgs& a, double* out) {
  double sf = a.scalars[1], tf = a.scalars[2];
  if (sf <= 0 || sf >= 1) {
    ThrowExec("invalid smoothing factor. Expected: 0 < sf < 1, got: " + FormatGoFixed(sf, 6));
  }
  if (tf <= 0 || tf >= 1) {
    ThrowExec("invalid trend factor. Expected: 0 < tf < 1, got: " + FormatGoFixed(tf, 6));
  }
  const size_t l = a.v.size();
  if (l < 2) return false;
  double s0 = 0, s1 = a.v[0], b = a.v[1] - a.v[0];
  for (size_t i = 1; i < l; ++i) {
    double x = sf * a.v[i];
    if (i - 1 != 0) {
      double tx = tf * (s1 - s0);
      double ty = (1 - tf) * b;
      b = tx + ty;
    }
    double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  *out = s1;
  return true;
}

}  // namespace

RangeFn LookupRangeFn(std::string_view name) {
  static const std::unordered_map<std::string_view, RangeFn> kFns = {
      {"rate", FnRate},
      {"increase", FnIncrease},
      {"delta", FnDelta},
      {"irate", FnIrate},
      {"idelta", FnIdelta},
      {"deriv", FnDeriv},
      {"predict_linear", FnPredictLinear},
      {"resets", FnResets},
      {"changes", FnChanges},
      {"avg_over_time", FnAvgOverTime},
      {"count_over_time", FnCountOverTime},
      {"max_over_time", FnMaxOverTime},
      {"min_over_time", FnMinOverTime},
      {"sum_over_time", FnSumOverTime},
      {"quantile_over_time", FnQuantileOverTime},
      {"stddev_over_time", FnStddevOverTime},
      {"stdvar_over_time", FnStdvarOverTime},
      {"last_over_time", FnLastOverTime},
      {"present_over_time", FnPresentOverTime},
      {"absent_over_time", FnPresentOverTime},
      {"holt_winters", FnHoltWinters},
  };
  auto it = kFns.find(name);
  return it == kFns.end() ? nullptr : it->second;
}

int MatrixArgIndex(std::string_view name) { return name == "quantile_over_time" ? 1 : 0; }

// ---------------------------------------------------------------------------------------------
// Per-sample functions.

namespace {
double FnAbs(double v, const double*) { return std::fabs(v); }
double FnCeil(double v, const double*) { return std::ceil(v); }
double FnFloor(double v, const double*) { return std::floor(v); }
double FnExp(double v, const double*) { return GoExp(v); }
double FnSqrt(double v, const double*) { return std::sqrt(v); }
double FnLn(double v, const double*) { return GoLog(v); }
double FnLog2(double v, const double*) { return GoLog2(v); }
double FnLog10(double v, const double*) { return GoLog10(v); }
double FnSin(double v, const double*) { return GoSin(v); }
double FnCos(double v, const double*) { return GoCos(v); }
double FnTan(double v, const double*) { return GoTan(v); }
double FnAsin(double v, const double*) { return GoAsin(v); }
double FnAcos(double v, const double*) { return GoAcos(v); }
double FnAtan(double v, const double*) { return GoAtan(v); }
double FnSinh(double v, const double*) { return GoSinh(v); }
double FnCosh(double v, const double*) { return GoCosh(v); }
double FnTanh(double v, const double*) { return GoTanh(v); }
double FnAsinh(double v, const double*) { return std::asinh(v); }
double FnAcosh(double v, const double*) { return std::acosh(v); }
double FnAtanh(double v, const double*) { return std::atanh(v); }
double FnRad(double v, const double*) { return v * M_PI / 180; }
double FnDeg(double v, const double*) { return v * 180 / M_PI; }
double FnSgn(double v, const double*) {
  if (v < 0) return -1;
  if (v > 0) return 1;
  return v;
}
double FnRound(double v, const double* s) {
  double inv = 1.0 / s[1];
  return std::floor(v * inv + 0.5) / inv;
}
double FnClamp(double v, const double* s) { return GoMax(s[1], GoMin(s[2], v)); }
double FnClampMax(double v, const double* s) { return GoMin(s[1], v); }
double FnClampMin(double v, const double* s) { return GoMax(s[1], v); }
double FnIdentity(double v, const double*) { return v; }
}  // namespace

const SimpleFn* LookupSimpleFn(std::string_view name) {
  static const std::unordered_map<std::string_view, SimpleFn> kFns = {
      {"abs", {FnAbs}},
      {"ceil", {FnCeil}},
      {"floor", {FnFloor}},
      {"exp", {FnExp}},
      {"sqrt", {FnSqrt}},
      {"ln", {FnLn}},
      {"log2", {FnLog2}},
      {"log10", {FnLog10}},
      {"sin", {FnSin}},
      {"cos", {FnCos}},
      {"tan", {FnTan}},
      {"asin", {FnAsin}},
      {"acos", {FnAcos}},
      {"atan", {FnAtan}},
      {"sinh", {FnSinh}},
      {"cosh", {FnCosh}},
      {"tanh", {FnTanh}},
      {"asinh", {FnAsinh}},
      {"acosh", {FnAcosh}},
      {"atanh", {FnAtanh}},
      {"rad", {FnRad}},
      {"deg", {FnDeg}},
      {"sgn", {FnSgn}},
      {"round", {FnRound}},
      {"clamp", {FnClamp}},
      {"clamp_max", {FnClampMax}},
      {"clamp_min", {FnClampMin}},
      {"sort", {FnIdentity, false}},
      {"sort_desc", {FnIdentity, false}},
  };
  auto it = kFns.find(name);
  return it == kFns.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------------------------
// Date functions (Go's time package in UTC).

namespace {
struct Civil {
  int64_t year;
  int month, day, hour, minute, weekday, yday;
};

// Go's time.Unix(secs, 0).UTC() calendar fields, computed as Go 1.19 does (absDate): in unsigned
// 64-bit arithmetic from year -292277022399, so even wrapped inputs (NaN → min int64 on amd64)
// give the values Prometheus prints.
Civil ToCivil(int64_t secs) {
  constexpr int64_t kAbsoluteZeroYear = -292277022399;
  constexpr uint64_t kUnixToAbsolute = 9223372028715321600ull;  // (1969 + 292277022399) years.
  constexpr uint64_t kDay = 86400, k400 = 146097, k100 = 36524, k4 = 1461;
  const uint64_t abs = static_cast<uint64_t>(secs) + kUnixToAbsolute;  // Wraps as Go's int64 sum.
  Civil c;
  c.hour = static_cast<int>(abs % kDay / 3600);
  c.minute = static_cast<int>(abs % 3600 / 60);
  c.weekday = static_cast<int>((abs + kDay) % (7 * kDay) / kDay);  // Absolute day 0 is a Monday.
  uint64_t d = abs / kDay;
  uint64_t n = d / k400;
  uint64_t y = 400 * n;
  d -= k400 * n;
  n = d / k100;
  n -= n >> 2;
  y += 100 * n;
  d -= k100 * n;
  n = d / k4;
  y += 4 * n;
  d -= k4 * n;
  n = d / 365;
  n -= n >> 2;
  y += n;
  d -= 365 * n;
  c.year = static_cast<int64_t>(y + static_cast<uint64_t>(kAbsoluteZeroYear));
  c.yday = static_cast<int>(d) + 1;
  int day = static_cast<int>(d);
  const bool leap = (c.year % 4 == 0 && c.year % 100 != 0) || c.year % 400 == 0;
  if (leap && day == 31 + 29 - 1) {
    c.month = 2;
    c.day = 29;
    return c;
  }
  if (leap && day > 31 + 29 - 1) --day;
  static const int kBefore[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
  int month = day / 31;
  const int end = kBefore[month + 1];
  int begin;
  if (day >= end) {
    ++month;
    begin = end;
  } else {
    begin = kBefore[month];
  }
  c.month = month + 1;
  c.day = day - begin + 1;
  return c;
}

int DaysIn(int month, int64_t year) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && leap) return 29;
  return kDays[month - 1];
}
}  // namespace

bool IsDateFn(std::string_view name) {
  return name == "year" || name == "month" || name == "day_of_month" || name == "day_of_week" ||
         name == "day_of_year" || name == "days_in_month" || name == "hour" || name == "minute";
}

double DateFn(std::string_view name, double unix_seconds) {
  Civil c = ToCivil(GoFloatToInt64(unix_seconds));
  if (name == "year") return static_cast<double>(c.year);
  if (name == "month") return c.month;
  if (name == "day_of_month") return c.day;
  if (name == "day_of_week") return c.weekday;
  if (name == "day_of_year") return c.yday;
  if (name == "days_in_month") return DaysIn(c.month, c.year);
  if (name == "hour") return c.hour;
  return c.minute;
}

// ---------------------------------------------------------------------------------------------
// label_replace.

struct LabelReplacer::Impl {
  std::string dst, repl, src;
  std::unique_ptr<RE2> re;
  std::map<std::string, int> names;
};

LabelReplacer::LabelReplacer(const std::string& dst, const std::string& repl,
                             const std::string& src, const std::string& regex)
    : impl_(std::make_unique<Impl>()) {
  impl_->dst = dst;
  impl_->repl = repl;
  impl_->src = src;
  RE2::Options opts;
  opts.set_log_errors(false);
  impl_->re = std::make_unique<RE2>("^(?:" + regex + ")$", opts);
  if (!impl_->re->ok()) {
    ThrowExec("invalid regular expression in label_replace(): " + regex);
  }
  if (!IsValidLabelName(dst)) {
    ThrowExec("invalid destination label name in label_replace(): " + dst);
  }
  impl_->names = impl_->re->NamedCapturingGroups();
}

LabelReplacer::~LabelReplacer() = default;

Labels LabelReplacer::Apply(const Labels& in) const {
  const RE2& re = *impl_->re;
  std::string src_val(GetLabel(in, impl_->src));
  const int ngroups = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> groups(ngroups);
  if (!re.Match(src_val, 0, src_val.size(), RE2::UNANCHORED, groups.data(), ngroups)) {
    return in;
  }
  auto group = [&](int i) -> std::string_view {
    if (i < 0 || i >= ngroups || groups[i].data() == nullptr) return {};
    return std::string_view(groups[i].data(), groups[i].size());
  };
  // Go's regexp.Expand.
  std::string res;
  std::string_view tmpl = impl_->repl;
  while (!tmpl.empty()) {
    size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    res.append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      res += '$';
      tmpl.remove_prefix(1);
      continue;
    }
    // extract()
    std::string_view str = tmpl;
    bool brace = false;
    if (!str.empty() && str[0] == '{') {
      brace = true;
      str.remove_prefix(1);
    }
    size_t i = 0;
    while (i < str.size()) {
      unsigned char c = static_cast<unsigned char>(str[i]);
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c >= 0x80;
      if (!ok) break;
      ++i;
    }
    bool valid = i > 0;
    std::string_view name = str.substr(0, i);
    if (valid && brace) {
      if (i >= str.size() || str[i] != '}') {
        valid = false;
      } else {
        ++i;
      }
    }
    if (!valid) {
      res += '$';
      continue;
    }
    int num = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || num >= 100000000) {
        num = -1;
        break;
      }
      num = num * 10 + (c - '0');
    }
    if (name[0] == '0' && name.size() > 1) num = -1;
    tmpl = str.substr(i);
    // Nested label_replace calls multiply lengths ("$1$1…" of "$1$1…"); refuse before memory
    // explodes.
    if (res.size() > kMaxLabelValueBytes) {
      ThrowExec("label_replace(): resulting label value longer than " +
                std::to_string(kMaxLabelValueBytes) + " bytes");
    }
    if (num >= 0) {
      res.append(group(num));
    } else {
      auto it = impl_->names.find(std::string(name));
      if (it != impl_->names.end()) res.append(group(it->second));
    }
  }
  res.append(tmpl);
  Labels out = in;
  DelLabel(&out, impl_->dst);
  if (!res.empty()) SetLabel(&out, impl_->dst, res);
  return out;
}

}  // namespace tidemark::promql::internal

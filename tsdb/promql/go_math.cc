// Ports of Go's pure math implementations (Cephes / FreeBSD msun), so that PromQL's math
// functions round exactly as Prometheus 2.42 does rather than as glibc does. Each one was checked
// against promtool on random inputs (see tests/promql/testdata/math.test).
#include <cmath>
#include <cstdint>
#include <limits>

#include "tsdb/promql/internal/eval.h"

namespace tidemark::promql::internal {
namespace {

constexpr double kPi = 3.14159265358979323846264338327950288419716939937510582097494459;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Go folds constant expressions exactly and rounds once.
constexpr double k4OverPi = 1.27323954473516268615107010698011489627567716592365;
constexpr double kPiOver2 = 1.57079632679489661923132169163975144209858469968755;
constexpr double kPiOver4 = 0.785398163397448309615660845819875721049292349843776;
constexpr double k3PiOver4 = 2.35619449019234492884698253745962716314787704953133;
constexpr double kReduceThreshold = 1 << 29;

constexpr double kSin[] = {
    1.58962301576546568060e-10, -2.50507477628578072866e-8, 2.75573136213857245213e-6,
    -1.98412698295895385996e-4, 8.33333333332211858878e-3,  -1.66666666666666307295e-1,
};
constexpr double kCos[] = {
    -1.13585365213876817300e-11, 2.08757008419747316778e-9,  -2.75573141792967388112e-7,
    2.48015872888517045348e-5,   -1.38888888888730564116e-3, 4.16666666666665929218e-2,
};
constexpr double kPI4A = 7.85398125648498535156e-1;
constexpr double kPI4B = 3.77489470793079817668e-8;
constexpr double kPI4C = 2.69515142907905952645e-15;

// Octant reduction for |x| < 2^29; returns false for larger arguments (glibc handles those).
bool Reduce(double x, uint64_t* j_out, double* z_out) {
  if (x >= kReduceThreshold) return false;
  uint64_t j = static_cast<uint64_t>(x * k4OverPi);
  double y = static_cast<double>(j);
  if ((j & 1) == 1) {
    j++;
    y++;
  }
  j &= 7;
  *z_out = ((x - y * kPI4A) - y * kPI4B) - y * kPI4C;
  *j_out = j;
  return true;
}

double SinPoly(double z, double zz) {
  return z +
         z * zz *
             ((((((kSin[0] * zz) + kSin[1]) * zz + kSin[2]) * zz + kSin[3]) * zz + kSin[4]) * zz +
              kSin[5]);
}
double CosPoly(double zz) {
  return 1.0 - 0.5 * zz +
         zz * zz *
             ((((((kCos[0] * zz) + kCos[1]) * zz + kCos[2]) * zz + kCos[3]) * zz + kCos[4]) * zz +
              kCos[5]);
}

double XAtan(double x) {
  constexpr double P0 = -8.750608600031904122785e-01;
  constexpr double P1 = -1.615753718733365076637e+01;
  constexpr double P2 = -7.500855792314704667340e+01;
  constexpr double P3 = -1.228866684490136173410e+02;
  constexpr double P4 = -6.485021904942025371773e+01;
  constexpr double Q0 = +2.485846490142306297962e+01;
  constexpr double Q1 = +1.650270098316988542046e+02;
  constexpr double Q2 = +4.328810604912902668951e+02;
  constexpr double Q3 = +4.853903996359136964868e+02;
  constexpr double Q4 = +1.945506571482613964425e+02;
  double z = x * x;
  z = z * ((((P0 * z + P1) * z + P2) * z + P3) * z + P4) /
      (((((z + Q0) * z + Q1) * z + Q2) * z + Q3) * z + Q4);
  return x * z + x;
}

double SAtan(double x) {
  constexpr double kMorebits = 6.123233995736765886130e-17;
  constexpr double kTan3Pio8 = 2.41421356237309504880;
  if (x <= 0.66) return XAtan(x);
  if (x > kTan3Pio8) return kPiOver2 - XAtan(1 / x) + kMorebits;
  return kPiOver4 + XAtan((x - 1) / (x + 1)) + 0.5 * kMorebits;
}

}  // namespace

double GoSin(double x) {
  if (x == 0 || std::isnan(x)) return x;
  if (std::isinf(x)) return kNaN;
  bool sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  uint64_t j;
  double z;
  if (!Reduce(x, &j, &z)) return sign ? -std::sin(x) : std::sin(x);
  if (j > 3) {
    sign = !sign;
    j -= 4;
  }
  const double zz = z * z;
  double y = (j == 1 || j == 2) ? CosPoly(zz) : SinPoly(z, zz);
  return sign ? -y : y;
}

double GoCos(double x) {
  if (std::isnan(x) || std::isinf(x)) return kNaN;
  bool sign = false;
  x = std::fabs(x);
  uint64_t j;
  double z;
  if (!Reduce(x, &j, &z)) return std::cos(x);
  if (j > 3) {
    j -= 4;
    sign = !sign;
  }
  if (j > 1) sign = !sign;
  const double zz = z * z;
  double y = (j == 1 || j == 2) ? SinPoly(z, zz) : CosPoly(zz);
  return sign ? -y : y;
}

double GoTan(double x) {
  constexpr double P[] = {-1.30936939181383777646e4, 1.15351664838587416140e6,
                          -1.79565251976484877988e7};
  constexpr double Q[] = {1.0, 1.36812963470692954678e4, -1.32089234440210967447e6,
                          2.50083801823357915839e7, -5.38695755929454629881e7};
  if (x == 0 || std::isnan(x)) return x;
  if (std::isinf(x)) return kNaN;
  bool sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  uint64_t j;
  double z;
  if (!Reduce(x, &j, &z)) return sign ? -std::tan(x) : std::tan(x);
  const double zz = z * z;
  double y;
  if (zz > 1e-14) {
    y = z + z * (zz * (((P[0] * zz) + P[1]) * zz + P[2]) /
                 ((((zz + Q[1]) * zz + Q[2]) * zz + Q[3]) * zz + Q[4]));
  } else {
    y = z;
  }
  if ((j & 2) == 2) y = -1 / y;
  return sign ? -y : y;
}

double GoAtan(double x) {
  if (x == 0) return x;
  if (x > 0) return SAtan(x);
  return -SAtan(-x);
}

double GoAsin(double x) {
  if (x == 0) return x;
  bool sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  if (x > 1) return kNaN;
  double temp = std::sqrt(1 - x * x);
  if (x > 0.7) {
    temp = kPiOver2 - SAtan(temp / x);
  } else {
    temp = SAtan(x / temp);
  }
  return sign ? -temp : temp;
}

double GoAcos(double x) { return kPiOver2 - GoAsin(x); }

double GoAtan2(double y, double x) {
  if (std::isnan(y) || std::isnan(x)) return kNaN;
  if (y == 0) {
    if (x >= 0 && !std::signbit(x)) return std::copysign(0.0, y);
    return std::copysign(kPi, y);
  }
  if (x == 0) return std::copysign(kPiOver2, y);
  if (std::isinf(x)) {
    if (x > 0) return std::isinf(y) ? std::copysign(kPiOver4, y) : std::copysign(0.0, y);
    return std::isinf(y) ? std::copysign(k3PiOver4, y) : std::copysign(kPi, y);
  }
  if (std::isinf(y)) return std::copysign(kPiOver2, y);
  double q = GoAtan(y / x);
  if (x < 0) {
    if (q <= 0) return q + kPi;
    return q - kPi;
  }
  return q;
}

double GoLog(double x) {
  constexpr double Ln2Hi = 6.93147180369123816490e-01;
  constexpr double Ln2Lo = 1.90821492927058770002e-10;
  constexpr double L1 = 6.666666666666735130e-01;
  constexpr double L2 = 3.999999999940941908e-01;
  constexpr double L3 = 2.857142874366239149e-01;
  constexpr double L4 = 2.222219843214978396e-01;
  constexpr double L5 = 1.818357216161805012e-01;
  constexpr double L6 = 1.531383769920937332e-01;
  constexpr double L7 = 1.479819860511658591e-01;
  constexpr double kSqrt2Over2 = 0.707106781186547524400844362104849039284835937688474;
  if (std::isnan(x) || (std::isinf(x) && x > 0)) return x;
  if (x < 0) return kNaN;
  if (x == 0) return -HUGE_VAL;
  int ki;
  double f1 = std::frexp(x, &ki);
  if (f1 < kSqrt2Over2) {
    f1 *= 2;
    ki--;
  }
  const double f = f1 - 1;
  const double k = ki;
  const double s = f / (2 + f);
  const double s2 = s * s;
  const double s4 = s2 * s2;
  const double t1 = s2 * (L1 + s4 * (L3 + s4 * (L5 + s4 * L7)));
  const double t2 = s4 * (L2 + s4 * (L4 + s4 * L6));
  const double R = t1 + t2;
  const double hfsq = 0.5 * f * f;
  return k * Ln2Hi - ((hfsq - (s * (hfsq + R) + k * Ln2Lo)) - f);
}

// Go's amd64 assembly exp could not be reproduced bit for bit; glibc's correctly rounded exp
// agrees with it more often than the ports above (measured on 300 random inputs).
double GoExp(double x) { return std::exp(x); }

double GoSinh(double x) {
  constexpr double P0 = -0.6307673640497716991184787251e+6;
  constexpr double P1 = -0.8991272022039509355398013511e+5;
  constexpr double P2 = -0.2894211355989563807284660366e+4;
  constexpr double P3 = -0.2630563213397497062819489000e+2;
  constexpr double Q0 = -0.6307673640497716991212077277e+6;
  constexpr double Q1 = 0.1521517378790019070696485176e+5;
  constexpr double Q2 = -0.173678953558233699533450911e+3;
  bool sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  double temp;
  if (x > 21) {
    temp = GoExp(x) * 0.5;
  } else if (x > 0.5) {
    const double ex = GoExp(x);
    temp = (ex - 1 / ex) * 0.5;
  } else {
    const double sq = x * x;
    temp = (((P3 * sq + P2) * sq + P1) * sq + P0) * x;
    temp = temp / (((sq + Q2) * sq + Q1) * sq + Q0);
  }
  return sign ? -temp : temp;
}

double GoCosh(double x) {
  x = std::fabs(x);
  if (x > 21) return GoExp(x) * 0.5;
  const double ex = GoExp(x);
  return (ex + 1 / ex) * 0.5;
}

double GoTanh(double x) {
  constexpr double P[] = {-9.64399179425052238628e-1, -9.92877231001918586564e1,
                          -1.61468768441708447952e3};
  constexpr double Q[] = {1.12811678491632931402e2, 2.23548839060100448583e3,
                          4.84406305325125486048e3};
  constexpr double kMaxLog = 8.8029691931113054295988e+01;
  double z = std::fabs(x);
  if (z > 0.5 * kMaxLog) return x < 0 ? -1 : 1;
  if (z >= 0.625) {
    const double s = GoExp(2 * z);
    z = 1 - 2 / (s + 1);
    if (x < 0) z = -z;
    return z;
  }
  if (x == 0) return x;
  const double s = x * x;
  return x + x * s * ((P[0] * s + P[1]) * s + P[2]) / (((s + Q[0]) * s + Q[1]) * s + Q[2]);
}

}  // namespace tidemark::promql::internal

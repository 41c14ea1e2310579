/*
 * INCRBYFLOAT arithmetic in the platform's `long double`, as Redis does it
 * (80-bit x87 extended precision on x86-64). Rust has no such type, and an
 * f64 answer differs visibly (0.1 + 0.2 would print 0.30000000000000004
 * instead of Redis's 0.3), so this one operation is done in C.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest accepted input, and the output buffer size the caller provides
 * (Redis's MAX_LONG_DOUBLE_CHARS). */
#define FKV_LD_CHARS 5120

/* Parses `len` bytes like Redis's string2ld: no leading white space,
 * strtold must consume all `len` bytes (an embedded NUL is an error), and
 * overflow, underflow to zero and NaN are rejected. Returns 1 on success. */
static int fkv_parse_ld(const char *s, size_t len, long double *out) {
    char buf[FKV_LD_CHARS];
    char *end;
    long double v;

    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || (size_t)(end - buf) != len) return 0;
    if (errno == EINVAL || isnan(v)) return 0;
    if (errno == ERANGE && (isinf(v) || v == 0.0L)) return 0;
    *out = v;
    return 1;
}

/* Adds `incr` to `cur` (an absent key when `cur` is NULL counts as 0) and
 * writes the result in Redis's "human friendly" form: "%.17Lf" with the
 * trailing fractional zeros and a bare trailing '.' removed, and "-0"
 * spelled "0". Returns the length written to `out` (which must hold
 * FKV_LD_CHARS bytes), -1 if either input is not a valid float, -2 if the
 * sum is NaN or infinite. */
long fkv_ld_incr(const char *cur, size_t cur_len, const char *incr, size_t incr_len,
                 char *out, size_t out_len) {
    long double a = 0.0L, b, sum;
    int n;

    if (cur != NULL && !fkv_parse_ld(cur, cur_len, &a)) return -1;
    if (!fkv_parse_ld(incr, incr_len, &b)) return -1;
    sum = a + b;
    if (isnan(sum) || isinf(sum)) return -2;

    n = snprintf(out, out_len, "%.17Lf", sum);
    /* Cannot happen with an FKV_LD_CHARS buffer (the largest finite long
     * double needs under 5000 characters), but never read past `out`. */
    if (n < 0 || (size_t)n >= out_len) return -2;
    if (memchr(out, '.', (size_t)n) != NULL) {
        while (out[n - 1] == '0') n--;
        if (out[n - 1] == '.') n--;
    }
    if (n == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        n = 1;
    }
    return n;
}

/* Parses like string2ld and narrows to double (an extended-range value such
 * as 1e400 becomes infinity). Returns 1 on success, 0 if not a float. */
int fkv_ld_parse_f64(const char *s, size_t len, double *out) {
    long double v;
    if (!fkv_parse_ld(s, len, &v)) return 0;
    *out = (double)v;
    return 1;
}

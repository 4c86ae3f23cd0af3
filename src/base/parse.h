/*
 * Parsing of the values users type on command lines and in specs: durations with a unit
 * (`500us`, `2.5s`), sizes with a binary suffix (`64M`, `1G`), and plain counts.
 *
 * Every parser takes the whole string (no trailing junk, no blanks), checks for overflow, and on
 * failure returns -EINVAL or -ERANGE with a message that quotes the input.
 */
#ifndef ZEPTO_BASE_PARSE_H
#define ZEPTO_BASE_PARSE_H

#include <stdint.h>

#include "zepto/zepto.h"

/* "<number>[.<fraction>]<unit>" with unit ns, us, ms or s. The unit is required; the result must
 * be a whole number of nanoseconds and fit in 63 bits. Zero is accepted; callers that need a
 * positive value check for it. */
int zb_parse_duration_ns(const char *s, uint64_t *ns, struct zepto_err *err);

/* "<number>[.<fraction>][K|M|G|T][iB|B]", powers of two, case-insensitive suffix; a bare number is
 * bytes. The result must be a whole number of bytes. */
int zb_parse_size(const char *s, uint64_t *bytes, struct zepto_err *err);

/* A plain decimal count in [min, max]. */
int zb_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, struct zepto_err *err);

/* A decimal real number (no exponent, no inf/nan) in [min, max]. */
int zb_parse_double(const char *s, double min, double max, double *out, struct zepto_err *err);

/* Formats a duration for people: "812 ns", "4.00 us", "3.99 ms", "1.002 s". */
const char *zb_fmt_duration(uint64_t ns, char *buf, unsigned len);

/* Formats a size for people: "512 B", "4.0 KiB", "1.5 GiB". */
const char *zb_fmt_size(uint64_t bytes, char *buf, unsigned len);

/* Text that others chose (a process's name, a path a client sent) made safe to print on a
 * terminal or in a log line: every control byte (newline, escape, ...) becomes '?', in place.
 * Returns s. */
char *zb_printable(char *s);

#endif

/* decimal.h -- unsigned integers as decimal digits, without printf: ids,
 * serials and HTTP heads are formatted on every publish. */
#ifndef HERALD_DECIMAL_H
#define HERALD_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* The longest output: 20 digits (UINT64_MAX). */
#define DECIMAL_MAX 20

/* Writes value's digits into out, zero-padded to at least min_width
 * (<= DECIMAL_MAX), without a NUL. Returns the number written. */
size_t decimal__write(char *out, uint64_t value, size_t min_width);

#endif

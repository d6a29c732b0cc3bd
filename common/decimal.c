/* decimal.c -- decimal digits without printf (see decimal.h). */
#include "decimal.h"

#include <string.h>

size_t decimal__write(char *out, uint64_t value, size_t min_width) {
  char digits[DECIMAL_MAX];
  size_t n = 0;
  do digits[DECIMAL_MAX - ++n] = (char)('0' + value % 10);
  while ((value /= 10) != 0);
  while (n < min_width) digits[DECIMAL_MAX - ++n] = '0';
  memcpy(out, digits + DECIMAL_MAX - n, n);
  return n;
}

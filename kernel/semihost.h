/* Arm semihosting: the case IDs in, the exit status out. */
#ifndef MMUT_SEMIHOST_H
#define MMUT_SEMIHOST_H

#include "types.h"

/* Fills buf with the command line (NUL-terminated); returns false if it did not fit. */
void semihost_write0(const char *s);
bool semihost_cmdline(char *buf, size_t size);
void semihost_exit(u32 status) __attribute__((noreturn));

#endif

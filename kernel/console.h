/*
 * The console: where every record goes (docs/protocol.md).  By default the
 * PL011 UART, the channel every board and emulator has; with the boot option
 * +semihosting, semihosting's SYS_WRITE0, a line per trap (opt-in: a debug
 * channel some targets lack).
 */
#ifndef MMUT_CONSOLE_H
#define MMUT_CONSOLE_H

#include "types.h"

void console_init(void);
void console_use_semihosting(void);
/* The UART's address as the code that runs next reaches it (its alias while steps run from TTBR1). */
void console_set_uart(u64 va);

void console_putc(char c);
void console_puts(const char *s);

#endif

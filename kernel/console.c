/*
 * The console (console.h): the PL011 UART of QEMU's virt board, written a
 * character at a time as its transmit FIFO takes them (PrimeCell UART PL011
 * TRM, DDI 0183: UARTDR, UARTFR.TXFF, UARTLCR_H.FEN, UARTCR), or, opted into,
 * semihosting's SYS_WRITE0, a line per call.
 */
#include "console.h"
#include "layout.h"
#include "semihost.h"

#define UARTDR          0x000
#define UARTFR          0x018
#define UARTLCR_H       0x02c
#define UARTCR          0x030

#define UARTFR_TXFF     BIT(5)          /* transmit FIFO full */
#define UARTLCR_H_FEN   BIT(4)          /* FIFOs enabled */
#define UARTLCR_H_WLEN8 (3 << 5)        /* 8-bit words */
#define UARTCR_UARTEN   BIT(0)
#define UARTCR_TXE      BIT(8)

/* Where the UART is for the code that runs now: the identity map, its PA with the MMU off, or the alias. */
static u64 uart = UART_BASE;
static bool semihosting;

/* The line being written for SYS_WRITE0: flushed at its end, or when full (a longer line arrives in pieces). */
static char line[256];
static unsigned line_len;

static inline u32 uart_read(unsigned reg)
{
	return *(volatile u32 *)(uintptr_t)(uart + reg);
}

static inline void uart_write(unsigned reg, u32 value)
{
	*(volatile u32 *)(uintptr_t)(uart + reg) = value;
}

/* 8-bit words through the FIFO, transmit on (the firmware of a board may have left it off). */
void console_init(void)
{
	uart_write(UARTCR, 0);
	uart_write(UARTLCR_H, UARTLCR_H_WLEN8 | UARTLCR_H_FEN);
	uart_write(UARTCR, UARTCR_UARTEN | UARTCR_TXE);
}

void console_use_semihosting(void)
{
	semihosting = true;
}

void console_set_uart(u64 va)
{
	uart = va;
}

void console_putc(char c)
{
	if (!semihosting) {
		while (uart_read(UARTFR) & UARTFR_TXFF)
			;
		uart_write(UARTDR, (u8)c);
		return;
	}
	line[line_len++] = c;
	if (c == '\n' || line_len == sizeof(line) - 1) {
		line[line_len] = '\0';
		semihost_write0(line);
		line_len = 0;
	}
}

void console_puts(const char *s)
{
	while (*s)
		console_putc(*s++);
}

/*
 * Records (record.h), written to the console (console.c: the PL011 UART, or
 * semihosting when the boot asks for it).
 */
#include "record.h"
#include "console.h"

static void put_hex(u64 v)
{
	int shift = 60;

	console_puts("0x");
	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		console_putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

static void put_dec(u64 v)
{
	char digits[20];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		console_putc(digits[--n]);
}

void record_begin(const char *event)
{
	console_puts("MMUT ");
	put_dec(PROTOCOL_VERSION);
	console_putc(' ');
	console_puts(event);
}

static void key(const char *k)
{
	console_putc(' ');
	console_puts(k);
	console_putc('=');
}

void record_str(const char *k, const char *value)
{
	key(k);
	console_puts(value);
}

void record_hex(const char *k, u64 value)
{
	key(k);
	put_hex(value);
}

void record_dec(const char *k, u64 value)
{
	key(k);
	put_dec(value);
}

void record_sdec(const char *k, s64 value)
{
	key(k);
	if (value < 0)
		console_putc('-');
	put_dec(value < 0 ? -(u64)value : (u64)value);
}

void record_end(void)
{
	console_putc('\n');
}

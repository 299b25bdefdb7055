/*
 * Records (record.h), written to the console (console.c: the PL011 UART, or
 * semihosting when the boot asks for it).
 */
#include "record.h"
#include "console.h"
#include "pgtable.h"

/* What the harness knows of the case being reported, from its records so far. */
static struct {
	u64 next_n;             /* the previous step record's n + 1 */
	u64 va;                 /* the previous step record's va */
	bool stepped;           /* a step record came: va is its */
	u64 esr, elr;           /* the previous fault's */
	bool faulted;
	u64 walks;              /* the fold of the step walks' digests */
	bool digested;
	u64 steps;              /* step records of the case so far */
} rc;

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

void record_case_begin(const char *id)
{
	record_begin("begin");
	record_str("case", id);
	record_end();
	rc.next_n = rc.steps = 0;
	rc.stepped = rc.faulted = rc.digested = false;
	rc.walks = WALK_DIGEST_SEED;
}

void record_case_end(void)
{
	record_begin("end");
	record_dec("steps", rc.steps);
	if (rc.digested)
		record_hex("walk", rc.walks);
	record_end();
}

void record_step(u64 n, u64 va)
{
	record_begin("step");
	if (n != rc.next_n)
		record_dec("n", n);
	if (!rc.stepped || va != rc.va)
		record_hex("va", va);
	rc.next_n = n + 1;
	rc.va = va;
	rc.stepped = true;
	rc.steps++;
}

void record_fault(u64 esr, u64 far, u64 elr)
{
	record_str("result", "fault");
	if (!rc.faulted || esr != rc.esr)
		record_hex("esr", esr);
	if (far != rc.va)
		record_hex("far", far);
	if (!rc.faulted || elr != rc.elr)
		record_hex("elr", elr);
	rc.esr = esr;
	rc.elr = elr;
	rc.faulted = true;
}

void record_walk(u64 n, bool after)
{
	record_begin("walk");
	if (n != (after ? rc.next_n - 1 : rc.next_n))
		record_dec("n", n);
	if (after)
		record_str("when", "after");
}

/* Folded as pgt_walk_digest folds a read's words. */
void record_walk_digest(u64 digest)
{
	rc.walks = (rc.walks ^ digest) * WALK_DIGEST_PRIME;
	rc.digested = true;
}

/*
 * The semihosting command line (docs/protocol.md): space-separated tokens,
 * case IDs, blob index ranges and the boot's options.
 */
#include "cmdline.h"
#include "console.h"
#include "exit_status.h"
#include "layout.h"
#include "record.h"
#include "semihost.h"
#include "sysreg.h"

struct boot_options options;
static char cmdline[CMDLINE_SIZE];

const char *cmdline_read(void)
{
	return semihost_cmdline(cmdline, sizeof(cmdline)) ? cmdline : NULL;
}

static void put_token(const char *token, size_t len)
{
	while (len--)
		console_putc(*token++);
}

int report_bad_token(const char *what, const char *key, const char *token, size_t len)
{
	record_begin("error");
	record_str("what", what);
	console_puts(" ");
	console_puts(key);
	console_puts("=");
	put_token(token, len);
	record_end();
	return EXIT_CASE_ERROR;
}

/* A decimal number of the whole of [p, end); false if it is not one or overflows 32 bits. */
static bool parse_index(const char *p, const char *end, u32 *value)
{
	u64 v = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (u64)(*p - '0');
		if (v > 0xffffffffULL)
			return false;
	}
	*value = (u32)v;
	return true;
}

/* "#first-last" or "#index": blob indices, inclusive, below ncases, so a batch of thousands fits the command line. */
bool parse_range(const char *token, size_t len, u32 ncases, u32 *first, u32 *last)
{
	const char *end = token + len, *dash = token + 1;

	while (dash < end && *dash != '-')
		dash++;
	if (!parse_index(token + 1, dash, first))
		return false;
	if (dash == end)
		*last = *first;
	else if (!parse_index(dash + 1, end, last))
		return false;
	return *first <= *last && *last < ncases;
}

/* Whether the token [token, token + len) is the option `name`. */
static bool is_option(const char *token, size_t len, const char *name)
{
	size_t k = 0;

	while (k < len && name[k] == token[k])
		k++;
	return k == len && name[k] == '\0';
}

/*
 * The boot's options: "+walks", walk records for every step; "+semihosting",
 * records through semihosting rather than the UART; "+vhe", the boot mode,
 * which start.S has acted on before C runs (el2_boot_hcr).
 */
static const struct {
	const char *name;
	bool *flag;             /* NULL: nothing to set here */
} option_names[] = {
	{ "+walks", &options.walks },
	{ "+semihosting", &options.semihosting },
	{ "+vhe", NULL },
};

bool set_option(const char *token, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(option_names); i++) {
		if (is_option(token, len, option_names[i].name)) {
			if (option_names[i].flag)
				*option_names[i].flag = true;
			return true;
		}
	}
	return false;
}

/* The next space-separated token of *p: its length, 0 at the end. */
size_t next_token(const char **p, const char **token)
{
	size_t len = 0;

	while (**p == ' ')
		(*p)++;
	*token = *p;
	while ((*p)[len] && (*p)[len] != ' ')
		len++;
	*p += len;
	return len;
}

/*
 * Called by start.S at EL2 with the MMU off, before the BSS is zeroed: the
 * HCR_EL2 to stay at EL2 with, or 0 to run the kernel at EL1.  A +vhe boot
 * on a CPU with FEAT_VHE stays, with E2H (EL2 is a host: the EL2&0 regime,
 * TTBR1_EL2, and EL2's accesses to the *_EL1 names reach the *_EL2
 * registers, so the kernel runs unchanged) and TGE (EL0's exceptions go to
 * EL2).  Without FEAT_VHE, E2H is RES0: the kernel runs at EL1 and refuses
 * the boot's EL2&0 cases.
 */
u64 el2_boot_hcr(void)
{
	const char *p = cmdline, *token;
	size_t len;

	if (!ID_MMFR1_VH(read_sysreg(id_aa64mmfr1_el1)) || !semihost_cmdline(cmdline, sizeof(cmdline)))
		return 0;
	while ((len = next_token(&p, &token))) {
		if (is_option(token, len, "+vhe"))
			return HCR_E2H | HCR_TGE | HCR_RW;
	}
	return 0;
}

/* Set the options of the command line p; false if one is unknown. */
bool set_options(const char *p)
{
	const char *token;
	size_t len;
	bool known = true;

	while ((len = next_token(&p, &token))) {
		if (token[0] == '+' && !set_option(token, len))
			known = false;
	}
	return known;
}

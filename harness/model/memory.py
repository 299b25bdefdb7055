"""The memory the model reads descriptors (and predicts loads) from: what it
knows, never a guess.  An address it does not hold raises UnknownMemory."""
from bisect import bisect_right


# J1.3.5.69 FetchDescriptor of memory the model does not know: it refuses rather than guesses
class UnknownMemory(Exception):
    """The model was asked for memory nobody declared (the model must never
    guess a descriptor)."""

    # J1.1.3.100 AArch64.MemSingle's memory, as the model knows it (declared words, zeroed ranges)
    def __init__(self, pa):
        self.pa = pa
        super().__init__(f"no known contents at PA {pa:#x}")


# J1.1.3.100 AArch64.MemSingle / J1.3.5.69 FetchDescriptor: the physical memory they read, little-endian
# (SCTLR_ELx.EE = 0)
class Memory:
    """Known memory: 64-bit words written, bytes written outside them, and
    ranges known to hold zeroes (freshly allocated tables, zeroed frames).
    Little-endian, as the kernel runs (SCTLR_EL1.EE = 0)."""

    # J1.1.3.100 AArch64.MemSingle's memory, as the model knows it (declared words, zeroed ranges)
    def __init__(self, words=None, zero_ranges=()):
        self._words = dict(words or {})
        self._bytes = {}
        self._unknown = set()       # bytes whose value the architecture leaves UNKNOWN (forget)
        ranges = sorted(zero_ranges)
        self._zero_starts = [start for start, _ in ranges]
        self._zero_ends = [end for _, end in ranges]

    # J1.1.3.100 AArch64.MemSingle's memory: a state the model may branch on
    def copy(self):
        other = Memory.__new__(Memory)
        other._words, other._bytes, other._unknown = dict(self._words), dict(self._bytes), set(self._unknown)
        other._zero_starts, other._zero_ends = self._zero_starts, self._zero_ends
        return other

    # J1.1.3.100 AArch64.MemSingle's memory: a location known to hold zero
    def _known_zero(self, pa):
        k = bisect_right(self._zero_starts, pa) - 1
        return k >= 0 and pa < self._zero_ends[k]

    # J1.3.5.69 FetchDescriptor (64-bit descriptor read) where all of it is known
    def _word(self, base):
        """The word at an 8-aligned PA, or None if not all of it is known."""
        if self._unknown and any(base + k in self._unknown for k in range(8)):
            return None
        word = self._words.get(base)
        if word is not None:
            return word
        if self._known_zero(base):
            return 0
        return None

    # J1.3.5.69 FetchDescriptor: a 64-bit little-endian descriptor read
    def read64(self, pa):
        """The aligned 64-bit word at pa (a descriptor)."""
        word = self._word(pa) if pa & 7 == 0 else None
        if word is not None:
            return word
        return self.read(pa, 8)

    # J1.1.3.101 AArch64.MemSingleRead of size bytes
    def read(self, pa, size):
        """size bytes at pa as a little-endian number."""
        value = 0
        for k in range(size):
            value |= self._byte(pa + k) << (8 * k)
        return value

    # J1.1.3.101 AArch64.MemSingleRead of one byte
    def _byte(self, pa):
        word = self._word(pa & ~7)
        if word is not None:
            return word >> (8 * (pa & 7)) & 0xFF
        if pa in self._bytes and pa not in self._unknown:
            return self._bytes[pa]
        raise UnknownMemory(pa)

    # D1.4.1.4 of J1.1.3.102 AArch64.MemSingleWrite: memory an instruction that took a precise exception may have
    # left UNKNOWN
    def forget(self, pa, size):
        """The size bytes at pa hold an UNKNOWN value from now on (until written): reading them
        raises UnknownMemory, as for memory nobody declared."""
        for addr in range(pa, pa + size):
            base = addr & ~7
            word = self._word(base)     # its other bytes, declared or known zero, stay known
            self._words.pop(base, None)
            if word is not None:        # kept byte by byte
                for k in range(8):
                    self._bytes.setdefault(base + k, word >> (8 * k) & 0xFF)
            self._unknown.add(addr)

    # J1.1.3.102 AArch64.MemSingleWrite of size bytes
    def write(self, pa, size, value):
        """Store size bytes of value at pa, little-endian."""
        for k in range(size):
            byte, addr = value >> (8 * k) & 0xFF, pa + k
            self._unknown.discard(addr)
            base = addr & ~7
            word = self._word(base)
            if word is None:
                self._bytes[addr] = byte
            else:
                shift = 8 * (addr & 7)
                self._words[base] = word & ~(0xFF << shift) | byte << shift

    # J1.1.3.102 AArch64.MemSingleWrite of a descriptor (J1.1.4.53 AArch64.MemSwapTableDesc's write)
    def write64(self, pa, value):
        self._unknown.difference_update(range(pa, pa + 8))
        self._words[pa] = value

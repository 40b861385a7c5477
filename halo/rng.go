package halo

// SplitMix64 is the generator every seeded choice of the data sets uses
// (PROTOCOLS.md section 3.5): a 64-bit state advanced by the golden-ratio
// increment and hashed by the splitmix64 finaliser. Its output is the same on
// every platform, so generated data sets are reproducible bit for bit.
type SplitMix64 struct{ state uint64 }

// NewSplitMix64 returns a generator whose state starts at seed.
func NewSplitMix64(seed uint64) *SplitMix64 { return &SplitMix64{state: seed} }

const golden = 0x9E3779B97F4A7C15

// Next returns the next 64 random bits.
func (r *SplitMix64) Next() uint64 {
	r.state += golden
	return mix64(r.state)
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Float64 returns a uniform value in [0, 1): the top 53 bits times 2^-53.
func (r *SplitMix64) Float64() float64 { return float64(r.Next()>>11) * (1.0 / (1 << 53)) }

// Intn returns Next() mod n, the protocol's (very slightly biased) rule.
func (r *SplitMix64) Intn(n int) int {
	if n <= 0 {
		panic("halo: SplitMix64.Intn: n <= 0")
	}
	return int(r.Next() % uint64(n))
}

// Shuffle permutes n items by Fisher-Yates as the protocol states it: for
// i = n-1 down to 1, j = Next() mod (i+1), swap(i, j).
func (r *SplitMix64) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i >= 1; i-- {
		swap(i, r.Intn(i+1))
	}
}

// Perm returns [0, n) shuffled by Shuffle.
func (r *SplitMix64) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

// Mix derives an independent seed from a seed and a counter (an epoch, a
// sequence index), so streams for different counters do not overlap.
func Mix(seed, k uint64) uint64 { return mix64(seed + mix64(k+golden)) }

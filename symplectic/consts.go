package symplectic

// eps is the unit roundoff of float64, u = 2^-53.
const eps = 0x1p-53

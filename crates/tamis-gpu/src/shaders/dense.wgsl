// Shared by the matrix products of every weight format: the activation after the bias.

// erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7); WGSL has none.
fn erf(v: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.3275911 * abs(v));
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    return sign(v) * (1.0 - poly * exp(-v * v));
}

// The exact GELU when p.flag = 1, the value unchanged otherwise.
fn activate(value: f32) -> f32 {
    if (p.flag == 1u) {
        return 0.5 * value * (1.0 + erf(value * 0.70710678118654752));
    }
    return value;
}

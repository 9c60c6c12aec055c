//! Statistics: the numerics behind the stats table and `thematic agree`.
//!
//! This module owns DESIGN 4 "Statistics per theme" and the agreement
//! measures of `thematic agree`:
//!
//! - [`presence_by_group`]: a presence × group (2 × k) contingency test with
//!   Pearson chi-square, Cramér's V, adjusted standardized residuals and,
//!   when any expected count is below 5, the exact Freeman–Halton test.
//! - [`holm`] and [`benjamini_hochberg`]: p-values adjusted across themes.
//! - [`Confusion`], [`krippendorff_alpha_nominal`] and [`bootstrap_ci`]:
//!   agreement between automatic and human coding.
//! - [`chi2_sf`], [`regularized_gamma_q`] and [`ln_gamma`]: the special
//!   functions these need, written by hand (they are the product's core,
//!   so we keep them visible and tested rather than behind a dependency).
//!
//! Everything here is a pure function of its arguments: no I/O, no global
//! state, no randomness that is not seeded by the caller. It does not know
//! about themes, groups or files; callers pass counts.

use std::collections::HashMap;

// ---------------------------------------------------------------------------
// Special functions
// ---------------------------------------------------------------------------

/// Lanczos coefficients for g = 7, n = 9 (Godfrey's widely used set, as in
/// Wikipedia's "Lanczos approximation"); the tests hold `ln_gamma` to 1e-13
/// relative of Python's `math.lgamma` from 0.1 to 1e6.
const LANCZOS_G: f64 = 7.0;
const LANCZOS_COEF: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// Natural log of the gamma function, `ln Γ(x)`, for `x > 0`, by the
/// Lanczos approximation (reflection formula below 0.5).
///
/// Returns NaN for `x <= 0` or NaN and infinity for infinite `x`.
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    if x < 0.5 {
        // Γ(x)Γ(1-x) = π / sin(πx); sin(πx) > 0 on (0, 0.5).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = LANCZOS_COEF[0];
    for (i, c) in LANCZOS_COEF.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    let t = x + LANCZOS_G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Convergence threshold and iteration cap of the incomplete gamma series
/// and continued fraction. Both converge in O(sqrt(a)) steps near x ≈ a, so
/// the cap only guards against pathological input.
const GAMMA_EPS: f64 = 1e-16;
const GAMMA_MAX_ITER: usize = 1_000_000;

/// Regularized upper incomplete gamma function `Q(a, x) = Γ(a, x) / Γ(a)`
/// for `a > 0`, `x >= 0`.
///
/// Uses the power series for `P = 1 - Q` when `x < a + 1` (where `Q` is not
/// small, so `1 - P` loses nothing) and the Lentz continued fraction for `Q`
/// otherwise (so tiny upper tails keep their relative accuracy), as in
/// Numerical Recipes §6.2. The tests hold [`chi2_sf`] to 1e-10 relative of
/// scipy, down to p ≈ 1e-37 and up to 4000 degrees of freedom.
/// Returns NaN for invalid arguments, 1 for `x <= 0`, 0 for `x = ∞`.
pub fn regularized_gamma_q(a: f64, x: f64) -> f64 {
    if a.is_nan() || x.is_nan() || a <= 0.0 || a.is_infinite() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    // ln of the common prefactor x^a e^-x / Γ(a).
    let ln_front = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let mut ap = a;
        let mut del = 1.0 / a;
        let mut sum = del;
        for _ in 0..GAMMA_MAX_ITER {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * GAMMA_EPS {
                break;
            }
        }
        let p = sum * ln_front.exp();
        (1.0 - p).clamp(0.0, 1.0)
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..GAMMA_MAX_ITER {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < GAMMA_EPS {
                break;
            }
        }
        (ln_front.exp() * h).clamp(0.0, 1.0)
    }
}

/// Chi-square survival function `P(X > x)` for `df` degrees of freedom:
/// `Q(df/2, x/2)`. Returns 1 for `x <= 0` and NaN for `df <= 0`.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    regularized_gamma_q(df / 2.0, x / 2.0)
}

// ---------------------------------------------------------------------------
// Contingency tests
// ---------------------------------------------------------------------------

/// The expected count below which the exact test replaces Pearson's p
/// (DESIGN 4: "when any expected count is below 5").
pub const MIN_EXPECTED: f64 = 5.0;

/// The most tables the Freeman–Halton enumeration may visit. Above this the
/// exact test is skipped and the Pearson p is reported with
/// [`Test::PearsonFallback`]. 10^7 tables take well under a second in a
/// release build.
pub const MAX_EXACT_TABLES: f64 = 1e7;

/// Relative tolerance when comparing a table's probability with the
/// observed one, so that tables of mathematically equal probability are not
/// lost to rounding. R's `fisher.test` uses the same `1 + 1e-7`.
const EXACT_REL_TOL: f64 = 1e-7;

/// Which test produced [`ContingencyResult::p`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Test {
    /// Pearson chi-square: every expected count is at least 5.
    Pearson,
    /// Exact Freeman–Halton test (Fisher's exact test for k = 2): some
    /// expected count is below 5.
    FreemanHalton,
    /// Some expected count is below 5, but the exact test would have to
    /// enumerate more than [`MAX_EXACT_TABLES`] tables; the Pearson p is
    /// reported instead and should be read with care.
    PearsonFallback,
    /// The theme is present in every response, or in none, of the non-empty
    /// groups: the table has an empty row, so there is nothing to test.
    /// The result has chi2 = 0, p = 1, V = 0 and all residuals 0.
    Degenerate,
}

/// Result of [`presence_by_group`] for one theme.
#[derive(Clone, Debug, PartialEq)]
pub struct ContingencyResult {
    /// Number of responses in the tested table (empty groups contribute 0).
    pub n: u64,
    /// Pearson chi-square statistic (no continuity correction).
    pub chi2: f64,
    /// Degrees of freedom, (2 - 1)(k - 1) for k non-empty groups.
    pub df: u32,
    /// Upper-tail chi-square p-value of `chi2` on `df`.
    pub p_pearson: f64,
    /// Cramér's V, `sqrt(chi2 / (n (min(2, k) - 1)))` = `sqrt(chi2 / n)`.
    pub cramers_v: f64,
    /// Smallest expected count over the 2 × k cells of non-empty groups.
    pub expected_min: f64,
    /// Freeman–Halton exact p-value, when it was computed.
    pub exact_p: Option<f64>,
    /// Which test [`ContingencyResult::p`] comes from.
    pub test: Test,
    /// The reported p-value: `exact_p` for [`Test::FreemanHalton`],
    /// `p_pearson` for the Pearson variants, 1 for [`Test::Degenerate`].
    pub p: f64,
    /// Adjusted standardized residual of the "present" cell, one per input
    /// group in input order; 0 for empty groups and degenerate tables. The
    /// "absent" cell's residual is the negation.
    pub residuals: Vec<f64>,
}

/// Test whether a theme's presence depends on the group.
///
/// `present[j]` is the number of responses in group `j` where the theme is
/// present, `totals[j]` the number of responses in group `j`.
///
/// Degenerate cases, decided so that callers never see NaN:
/// - `None` when the slices differ in length or some `present[j] >
///   totals[j]` (invalid input), or when fewer than two groups are
///   non-empty (there is no comparison to make).
/// - Empty groups (`totals[j] == 0`) are dropped from the table: they have
///   no expected count and add no degree of freedom. Their residual is 0.
/// - If the theme is present in all or none of the responses of the
///   non-empty groups, the result has [`Test::Degenerate`], chi2 = 0,
///   p = p_pearson = 1, V = 0, residuals 0 and no exact p (the margins admit
///   a single table, whose exact p would be 1 too).
pub fn presence_by_group(present: &[u64], totals: &[u64]) -> Option<ContingencyResult> {
    if present.len() != totals.len() || present.iter().zip(totals).any(|(p, t)| p > t) {
        return None;
    }
    let used: Vec<usize> = (0..totals.len()).filter(|&j| totals[j] > 0).collect();
    if used.len() < 2 {
        return None;
    }
    let n: u64 = used.iter().map(|&j| totals[j]).sum();
    let row_present: u64 = used.iter().map(|&j| present[j]).sum();
    let row_absent = n - row_present;
    let df = (used.len() - 1) as u32;
    let mut residuals = vec![0.0; totals.len()];
    if row_present == 0 || row_absent == 0 {
        return Some(ContingencyResult {
            n,
            chi2: 0.0,
            df,
            p_pearson: 1.0,
            cramers_v: 0.0,
            expected_min: 0.0,
            exact_p: None,
            test: Test::Degenerate,
            p: 1.0,
            residuals,
        });
    }

    let nf = n as f64;
    let r1 = row_present as f64;
    let r2 = row_absent as f64;
    let mut chi2 = 0.0;
    let mut expected_min = f64::INFINITY;
    for &j in &used {
        let c = totals[j] as f64;
        let o1 = present[j] as f64;
        let o2 = c - o1;
        let e1 = r1 * c / nf;
        let e2 = r2 * c / nf;
        chi2 += (o1 - e1).powi(2) / e1 + (o2 - e2).powi(2) / e2;
        expected_min = expected_min.min(e1).min(e2);
        residuals[j] = (o1 - e1) / (e1 * (1.0 - r1 / nf) * (1.0 - c / nf)).sqrt();
    }
    let p_pearson = chi2_sf(chi2, f64::from(df));
    // min(r, c) - 1 = 1 for a 2 × k table with k >= 2.
    let cramers_v = (chi2 / nf).sqrt();

    let (exact_p, test) = if expected_min < MIN_EXPECTED {
        let cols: Vec<u64> = used.iter().map(|&j| totals[j]).collect();
        let obs: Vec<u64> = used.iter().map(|&j| present[j]).collect();
        match freeman_halton_2xk(&obs, &cols, MAX_EXACT_TABLES) {
            Some(p) => (Some(p), Test::FreemanHalton),
            None => (None, Test::PearsonFallback),
        }
    } else {
        (None, Test::Pearson)
    };
    let p = exact_p.unwrap_or(p_pearson);
    Some(ContingencyResult {
        n,
        chi2,
        df,
        p_pearson,
        cramers_v,
        expected_min,
        exact_p,
        test,
        p,
        residuals,
    })
}

/// Number of 2 × k tables with first-row total `m` and column totals
/// `cols`, as an f64 (exact below 2^53, which is all the cap needs).
fn count_tables(m: u64, cols: &[u64]) -> f64 {
    let m = m as usize;
    // ways[r]: tables for the columns processed so far with row sum r.
    let mut ways = vec![0.0f64; m + 1];
    ways[0] = 1.0;
    let mut prefix = vec![0.0f64; m + 2];
    for &c in cols {
        let c = c.min(m as u64) as usize;
        for r in 0..=m {
            prefix[r + 1] = prefix[r] + ways[r];
        }
        for (r, w) in ways.iter_mut().enumerate() {
            // Sum of old ways[r - x] for x in 0..=min(c, r).
            *w = prefix[r + 1] - prefix[r - c.min(r)];
        }
    }
    ways[m]
}

/// Freeman–Halton exact p for a 2 × k table with first row `obs` and column
/// totals `cols` (all positive), or `None` when more than `cap` tables
/// would have to be enumerated.
///
/// Conditioned on the margins, the first row is multivariate
/// hypergeometric: `P(x) = Π C(c_j, x_j) / C(n, m)`. The p-value is the
/// total probability of the tables no more probable than the observed one
/// (within relative tolerance [`EXACT_REL_TOL`]). We enumerate whichever row
/// has the smaller total (the probability is symmetric in the rows), column
/// by column with the remaining row total bounded by what the remaining
/// columns can hold, so every visited prefix completes to a valid table.
/// Weights stay in log space; the normalising constant is the enumerated
/// total, so no `ln C(n, m)` is needed.
fn freeman_halton_2xk(obs: &[u64], cols: &[u64], cap: f64) -> Option<f64> {
    let n: u64 = cols.iter().sum();
    let m_first: u64 = obs.iter().sum();
    let (m, row): (u64, Vec<u64>) = if m_first <= n - m_first {
        (m_first, obs.to_vec())
    } else {
        (
            n - m_first,
            obs.iter().zip(cols).map(|(o, c)| c - o).collect(),
        )
    };
    // Cheap upper bound first: the last free column is determined, so the
    // count is at most Π (min(c_j, m) + 1) over all but the largest column.
    // This skips the O(k m) count for rare themes in large samples.
    let largest = cols.iter().copied().max().unwrap_or(0);
    let mut skipped_largest = false;
    let bound: f64 = cols
        .iter()
        .filter(|&&c| {
            let skip = c == largest && !skipped_largest;
            skipped_largest |= skip;
            !skip
        })
        .map(|&c| (c.min(m) + 1) as f64)
        .product();
    if bound > cap && count_tables(m, cols) > cap {
        return None;
    }
    // ln C(c_j, x) for x in 0..=min(c_j, m), by the ratio recurrence
    // C(c, x) = C(c, x - 1) (c - x + 1) / x; exact enough (error ~ x eps).
    let ln_choose: Vec<Vec<f64>> = cols
        .iter()
        .map(|&c| {
            let top = c.min(m);
            let mut v = Vec::with_capacity(top as usize + 1);
            let mut acc = 0.0;
            v.push(acc);
            for x in 1..=top {
                acc += ((c - x + 1) as f64).ln() - (x as f64).ln();
                v.push(acc);
            }
            v
        })
        .collect();
    let w_obs: f64 = row
        .iter()
        .enumerate()
        .map(|(j, &x)| ln_choose[j][x as usize])
        .sum();
    // suffix[j]: total of columns j.. — the most the remaining row can hold.
    let mut suffix = vec![0u64; cols.len() + 1];
    for j in (0..cols.len()).rev() {
        suffix[j] = suffix[j + 1] + cols[j];
    }
    let mut acc = Accumulator {
        threshold: w_obs + EXACT_REL_TOL.ln_1p(),
        max: w_obs,
        all: 0.0,
        le: 0.0,
    };
    enumerate(0, m, 0.0, cols, &suffix, &ln_choose, &mut acc);
    Some((acc.le / acc.all).min(1.0))
}

/// Running sums of `exp(w)` scaled by `exp(-max)`, rescaled whenever a
/// larger weight appears, so neither overflows nor underflows to nothing.
struct Accumulator {
    threshold: f64,
    max: f64,
    all: f64,
    le: f64,
}

impl Accumulator {
    fn add(&mut self, w: f64) {
        if w > self.max {
            let scale = (self.max - w).exp();
            self.all *= scale;
            self.le *= scale;
            self.max = w;
        }
        let e = (w - self.max).exp();
        self.all += e;
        if w <= self.threshold {
            self.le += e;
        }
    }
}

fn enumerate(
    j: usize,
    r: u64,
    w: f64,
    cols: &[u64],
    suffix: &[u64],
    ln_choose: &[Vec<f64>],
    acc: &mut Accumulator,
) {
    if j + 1 == cols.len() {
        // The bounds guarantee r <= cols[j].
        acc.add(w + ln_choose[j][r as usize]);
        return;
    }
    let lo = r.saturating_sub(suffix[j + 1]);
    let hi = cols[j].min(r);
    for x in lo..=hi {
        enumerate(
            j + 1,
            r - x,
            w + ln_choose[j][x as usize],
            cols,
            suffix,
            ln_choose,
            acc,
        );
    }
}

// ---------------------------------------------------------------------------
// Multiple testing
// ---------------------------------------------------------------------------

/// Indices of the non-NaN entries of `p`, sorted by ascending p (stable).
fn sorted_valid(p: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    idx
}

/// Holm (1979) step-down adjusted p-values, in input order.
///
/// With the m non-NaN p-values sorted ascending, `adj(i) = max over j <= i
/// of min(1, (m - j + 1) p(j))`. NaN inputs stay NaN and do not count
/// towards m (as R's `p.adjust` does with `NA`).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let idx = sorted_valid(p);
    let m = idx.len() as f64;
    let mut out = p.to_vec();
    let mut running = 0.0f64;
    for (rank, &i) in idx.iter().enumerate() {
        running = running.max((m - rank as f64) * p[i]).min(1.0);
        out[i] = running;
    }
    out
}

/// Benjamini–Hochberg (1995) step-up adjusted p-values (false discovery
/// rate), in input order.
///
/// With the m non-NaN p-values sorted ascending, `adj(i) = min over j >= i
/// of min(1, m p(j) / j)`. NaN inputs stay NaN and do not count towards m.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let idx = sorted_valid(p);
    let m = idx.len() as f64;
    let mut out = p.to_vec();
    let mut running = 1.0f64;
    for (rank, &i) in idx.iter().enumerate().rev() {
        running = running.min(m * p[i] / (rank as f64 + 1.0));
        out[i] = running;
    }
    out
}

// ---------------------------------------------------------------------------
// Agreement
// ---------------------------------------------------------------------------

/// A 2 × 2 confusion table of automatic against human coding of one theme.
/// The human coding is the reference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Confusion {
    /// Responses both sides coded with the theme.
    pub both: u64,
    /// Responses only the automatic coding has the theme for.
    pub auto_only: u64,
    /// Responses only the human coding has the theme for.
    pub human_only: u64,
    /// Responses neither side coded with the theme.
    pub neither: u64,
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl Confusion {
    /// Number of responses.
    pub fn n(&self) -> u64 {
        self.both + self.auto_only + self.human_only + self.neither
    }

    /// Percent agreement as a proportion in [0, 1]: `(both + neither) / n`.
    /// `None` when n = 0.
    pub fn agreement(&self) -> Option<f64> {
        ratio(self.both + self.neither, self.n())
    }

    /// Share of responses the automatic coding has the theme for.
    /// `None` when n = 0.
    pub fn prevalence_auto(&self) -> Option<f64> {
        ratio(self.both + self.auto_only, self.n())
    }

    /// Share of responses the human coding has the theme for.
    /// `None` when n = 0.
    pub fn prevalence_human(&self) -> Option<f64> {
        ratio(self.both + self.human_only, self.n())
    }

    /// Cohen's kappa `(p_o - p_e) / (1 - p_e)` with chance agreement
    /// `p_e = pa ph + (1 - pa)(1 - ph)` from the two prevalences. `None`
    /// when n = 0 or p_e = 1 (both sides constant and equal, so kappa is
    /// 0/0).
    pub fn cohen_kappa(&self) -> Option<f64> {
        let po = self.agreement()?;
        let pa = self.prevalence_auto()?;
        let ph = self.prevalence_human()?;
        let pe = pa * ph + (1.0 - pa) * (1.0 - ph);
        (pe < 1.0).then(|| (po - pe) / (1.0 - pe))
    }

    /// Precision `both / (both + auto_only)`; `None` when the automatic
    /// coding never assigns the theme.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.both, self.both + self.auto_only)
    }

    /// Recall `both / (both + human_only)`; `None` when the human coding
    /// never assigns the theme.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.both, self.both + self.human_only)
    }

    /// F1 `2 both / (2 both + auto_only + human_only)`, the harmonic mean of
    /// precision and recall; `None` when neither side assigns the theme.
    /// (When only one side does, F1 is 0.)
    pub fn f1(&self) -> Option<f64> {
        ratio(
            2 * self.both,
            2 * self.both + self.auto_only + self.human_only,
        )
    }
}

/// Krippendorff's alpha for nominal data, any number of coders, missing
/// values allowed.
///
/// `units[u][c]` is coder c's value for unit u, `None` when missing; rows
/// may have different lengths. Coincidence-matrix method (Krippendorff
/// 2011, "Computing Krippendorff's Alpha-Reliability"): a unit with m_u >= 2
/// values contributes each ordered pair of its values with weight
/// 1 / (m_u - 1); units with fewer than 2 values are dropped. Then
/// `alpha = 1 - (n - 1) D_o / D_e` with D_o the off-diagonal coincidence
/// total and D_e = Σ_{c≠k} n_c n_k.
///
/// `None` when fewer than 2 pairable values remain or all pairable values
/// are the same category (expected disagreement 0, alpha is 0/0).
pub fn krippendorff_alpha_nominal(units: &[Vec<Option<u32>>]) -> Option<f64> {
    let mut n_c: HashMap<u32, u64> = HashMap::new();
    let mut observed = 0.0;
    let mut values: Vec<u32> = Vec::new();
    for unit in units {
        values.clear();
        values.extend(unit.iter().flatten());
        let m_u = values.len() as u64;
        if m_u < 2 {
            continue;
        }
        values.sort_unstable();
        // Σ_c n_uc², from runs of equal values.
        let mut sum_sq = 0u64;
        for run in values.chunk_by(|a, b| a == b) {
            let k = run.len() as u64;
            sum_sq += k * k;
            *n_c.entry(run[0]).or_default() += k;
        }
        // Off-diagonal pairs of this unit: m_u² - Σ_c n_uc².
        observed += (m_u * m_u - sum_sq) as f64 / (m_u - 1) as f64;
    }
    let n: u64 = n_c.values().sum();
    let sum_sq: u128 = n_c.values().map(|&k| u128::from(k) * u128::from(k)).sum();
    let expected = (u128::from(n) * u128::from(n) - sum_sq) as f64;
    if n < 2 || expected == 0.0 {
        return None;
    }
    Some(1.0 - (n - 1) as f64 * observed / expected)
}

/// SplitMix64 (Steele, Lea and Flood 2014; Vigna's reference C): a small,
/// fast, seeded generator. Good enough for bootstrap resampling and fully
/// deterministic across platforms.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`), by the multiply-high method:
    /// `(x * bound) >> 64`. The bias is at most bound / 2^64, negligible for
    /// resampling survey responses.
    pub fn next_below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }
}

/// Percentile bootstrap confidence interval (95%).
///
/// Draws `resamples` resamples of `n_units` indices in `0..n_units` with
/// replacement from [`SplitMix64`] seeded with `seed`, and evaluates
/// `statistic` on each (it receives the resampled unit indices, so it can
/// compute anything over the units: kappa, alpha, F1). Resamples where the
/// statistic is `None` or NaN are skipped.
///
/// Returns the 2.5% and 97.5% percentiles of the remaining values, by
/// linear interpolation between order statistics (R's quantile type 7,
/// NumPy's default): for sorted v of length N, the q-quantile is
/// `v[⌊h⌋] + (h - ⌊h⌋)(v[⌊h⌋ + 1] - v[⌊h⌋])` with `h = (N - 1) q`.
/// `None` when `n_units` or `resamples` is 0 or no resample gave a value.
/// The same arguments always give the same interval.
pub fn bootstrap_ci(
    n_units: usize,
    resamples: usize,
    seed: u64,
    statistic: impl Fn(&[usize]) -> Option<f64>,
) -> Option<(f64, f64)> {
    if n_units == 0 || resamples == 0 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut sample = vec![0usize; n_units];
    let mut values = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for s in sample.iter_mut() {
            *s = rng.next_below(n_units);
        }
        if let Some(v) = statistic(&sample).filter(|v| !v.is_nan()) {
            values.push(v);
        }
    }
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some((
        quantile_sorted(&values, 0.025),
        quantile_sorted(&values, 0.975),
    ))
}

/// Type-7 quantile of a sorted, non-empty slice.
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Assert `a` is within `rel` relative (or `abs` absolute) of `b`.
    fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
        (a - b).abs() <= abs.max(rel * b.abs())
    }

    macro_rules! assert_close {
        ($a:expr, $b:expr, $rel:expr) => {{
            let (a, b): (f64, f64) = ($a, $b);
            assert!(close(a, b, $rel, 0.0), "{a} != {b} (rel {})", $rel);
        }};
    }

    // ln Γ reference values: Python 3 `math.lgamma`.
    #[test]
    fn ln_gamma_matches_python() {
        let cases = [
            (0.1, 2.2527126517342055),
            (0.5, 0.5723649429247004),
            (1.0, 0.0),
            (2.5, 0.2846828704729196),
            (10.0, 12.801827480081467),
            (100.5, 361.4355404677776),
            (1000.0, 5905.220423209181),
            (1e6, 12815504.569147611),
        ];
        for (x, want) in cases {
            let got = ln_gamma(x);
            assert!(
                close(got, want, 1e-13, 1e-14),
                "ln_gamma({x}) = {got}, want {want}"
            );
        }
        assert!(ln_gamma(0.0).is_nan());
        assert!(ln_gamma(-1.0).is_nan());
    }

    // Chi-square survival reference values: scipy 1.17.1 `scipy.stats.chi2.sf(x, df)`.
    #[test]
    fn chi2_sf_matches_scipy() {
        let cases = [
            (3.841458820694124, 1.0, 0.04999999999999989),
            (0.001, 1.0, 0.9747728793699604),
            (0.5, 5.0, 0.9921232932326296),
            (10.0, 3.0, 0.01856613546304325),
            (60.0, 4.0, 2.9008631203404573e-12),
            (100.0, 50.0, 3.454931382984871e-05),
            (200.0, 10.0, 1.6139305336977317e-37),
            (1000.0, 1000.0, 0.49405285382923964),
            (1100.0, 1000.0, 0.014614408126295192),
            (1500.0, 1000.0, 1.0454640385980825e-22),
            (5000.0, 4000.0, 1.6633156038804178e-25),
        ];
        for (x, df, want) in cases {
            let got = chi2_sf(x, df);
            assert!(
                close(got, want, 1e-10, 0.0),
                "chi2_sf({x}, {df}) = {got}, want {want}"
            );
        }
        assert_eq!(chi2_sf(0.0, 3.0), 1.0);
        assert_eq!(chi2_sf(-1.0, 3.0), 1.0);
        assert_eq!(chi2_sf(f64::INFINITY, 3.0), 0.0);
        assert!(chi2_sf(1.0, 0.0).is_nan());
    }

    /// One Pearson reference row: present, totals, chi2, df, p, V,
    /// expected_min, adjusted residuals.
    struct PearsonCase {
        present: &'static [u64],
        totals: &'static [u64],
        chi2: f64,
        df: u32,
        p: f64,
        v: f64,
        expected_min: f64,
        residuals: &'static [f64],
    }

    // Reference values: scipy 1.17.1 `chi2_contingency(t, correction=False)`
    // for chi2, df, p and expected; `scipy.stats.contingency.association(t,
    // "cramer")` for V; NumPy for (O - E) / sqrt(E (1 - row/n)(1 - col/n)).
    // The first row is Agresti's party identification by gender example
    // ("Categorical Data Analysis"; females as "present"), printed there as
    // chi2 = 30.1 with adjusted residuals 4.50, 0.70, -5.32.
    const PEARSON_CASES: &[PearsonCase] = &[
        PearsonCase {
            present: &[762, 327, 468],
            totals: &[1246, 566, 945],
            chi2: 30.070149095754672,
            df: 2,
            p: 2.9535891832117595e-07,
            v: 0.10443580235646777,
            expected_min: 246.35473340587595,
            residuals: &[4.502053521086705, 0.6994517329844296, -5.315945542704929],
        },
        PearsonCase {
            present: &[12, 5],
            totals: &[19, 24],
            chi2: 7.946867309676909,
            df: 1,
            p: 0.004817068831291139,
            v: 0.42989634525883663,
            expected_min: 7.511627906976744,
            residuals: &[2.819018855856929, -2.819018855856929],
        },
        PearsonCase {
            present: &[20, 15, 30],
            totals: &[50, 60, 40],
            chi2: 24.773755656108598,
            df: 2,
            p: 4.1729896856109855e-06,
            v: 0.4063968147521877,
            expected_min: 17.333333333333332,
            residuals: &[-0.5825517280354634, -3.6997003669797186, 4.71961693779166],
        },
        PearsonCase {
            present: &[10, 20, 30, 25],
            totals: &[40, 45, 50, 35],
            chi2: 18.984126984126984,
            df: 3,
            p: 0.0002754727617559929,
            v: 0.3341726128825445,
            expected_min: 17.5,
            residuals: &[
                -3.6162028533978954,
                -0.8692269873603532,
                1.6832508230603465,
                2.845213189769458,
            ],
        },
    ];

    #[test]
    fn pearson_matches_scipy() {
        for case in PEARSON_CASES {
            let r = presence_by_group(case.present, case.totals).unwrap();
            assert_close!(r.chi2, case.chi2, 1e-12);
            assert_eq!(r.df, case.df);
            assert_close!(r.p_pearson, case.p, 1e-10);
            assert_close!(r.cramers_v, case.v, 1e-12);
            assert_close!(r.expected_min, case.expected_min, 1e-12);
            assert_eq!(r.test, Test::Pearson);
            assert_eq!(r.exact_p, None);
            assert_eq!(r.p, r.p_pearson);
            assert_eq!(r.residuals.len(), case.residuals.len());
            for (got, want) in r.residuals.iter().zip(case.residuals) {
                assert_close!(*got, *want, 1e-12);
            }
        }
    }

    /// Freeman–Halton p by brute force, independent of the implementation:
    /// every first row in Π 0..=c_j, kept when it sums to m, weighed by the
    /// exact integer Π C(c_j, x_j); "no more probable" is an exact integer
    /// comparison, so no tolerance is involved.
    fn brute_force_fh(present: &[u64], totals: &[u64]) -> f64 {
        fn choose(n: u64, k: u64) -> u128 {
            (0..k).fold(1u128, |acc, i| acc * u128::from(n - i) / u128::from(i + 1))
        }
        let weight =
            |x: &[u64]| -> u128 { x.iter().zip(totals).map(|(&x, &c)| choose(c, x)).product() };
        let m: u64 = present.iter().sum();
        let w_obs = weight(present);
        let (mut all, mut le) = (0u128, 0u128);
        let mut x = vec![0u64; totals.len()];
        'odometer: loop {
            if x.iter().sum::<u64>() == m {
                let w = weight(&x);
                all += w;
                if w <= w_obs {
                    le += w;
                }
            }
            for j in 0..x.len() {
                if x[j] < totals[j] {
                    x[j] += 1;
                    continue 'odometer;
                }
                x[j] = 0;
            }
            break;
        }
        le as f64 / all as f64
    }

    // Exact p reference values: a separate Python enumeration in exact
    // rational arithmetic (fractions.Fraction, math.comb); the 2 × 2 rows
    // also equal scipy 1.17.1 `fisher_exact(t).pvalue` (two-sided), e.g.
    // fisher_exact([[8, 1], [2, 5]]) = 0.034965034965034975.
    const EXACT_CASES: &[(&[u64], &[u64], f64)] = &[
        (&[8, 1], &[10, 6], 0.034965034965034975),
        (&[1, 9], &[12, 12], 0.0027594561852200836),
        (&[0, 5], &[6, 6], 0.01515151515151515),
        (&[8, 1], &[9, 7], 0.008741258741258742),
        (&[8, 2, 3], &[9, 7, 7], 0.05714705270500128),
        (&[0, 3, 1], &[4, 3, 3], 0.03333333333333333),
        (&[3, 1, 0], &[4, 4, 4], 0.2),
        (&[2, 0, 5], &[10, 8, 9], 0.027647714604236342),
        (&[2, 0, 3, 1], &[3, 4, 3, 4], 0.051615051615051616),
        (&[1, 1, 1, 1], &[5, 5, 5, 5], 1.0),
    ];

    #[test]
    fn freeman_halton_matches_references() {
        for &(present, totals, want) in EXACT_CASES {
            let got = freeman_halton_2xk(present, totals, MAX_EXACT_TABLES).unwrap();
            assert_close!(got, want, 1e-12);
            assert_close!(brute_force_fh(present, totals), want, 1e-12);
            // presence_by_group reports it exactly when some E < 5
            // ([1, 9] / [12, 12] has E = 5 at the minimum: Pearson).
            let r = presence_by_group(present, totals).unwrap();
            if r.expected_min < MIN_EXPECTED {
                assert_eq!(r.test, Test::FreemanHalton, "{present:?} / {totals:?}");
                assert_eq!((r.exact_p, r.p), (Some(got), got));
            } else {
                assert_eq!(r.test, Test::Pearson, "{present:?} / {totals:?}");
            }
        }
    }

    #[test]
    fn freeman_halton_matches_brute_force_on_random_tables() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..300 {
            let k = 2 + rng.next_below(3);
            let totals: Vec<u64> = (0..k).map(|_| 1 + rng.next_below(7) as u64).collect();
            let present: Vec<u64> = totals
                .iter()
                .map(|&t| rng.next_below(t as usize + 1) as u64)
                .collect();
            let want = brute_force_fh(&present, &totals);
            let cols: Vec<u64> = totals.clone();
            let got = freeman_halton_2xk(&present, &cols, MAX_EXACT_TABLES).unwrap();
            assert!(
                close(got, want, 1e-12, 1e-15),
                "{present:?} / {totals:?}: {got} != {want}"
            );
        }
    }

    #[test]
    fn count_tables_matches_enumeration() {
        // 2 × 3 with column totals 9, 7, 7 and first row 13: 53 tables,
        // 2 × 4 with 3, 4, 3, 4 and first row 6: 56 (Python enumeration).
        assert_eq!(count_tables(13, &[9, 7, 7]), 53.0);
        assert_eq!(count_tables(6, &[3, 4, 3, 4]), 56.0);
        assert_eq!(count_tables(4, &[5, 5, 5, 5]), 35.0);
    }

    #[test]
    fn exact_test_falls_back_when_too_many_tables() {
        // One tiny group forces the exact test; seven groups of 1000 make
        // the enumeration far larger than MAX_EXACT_TABLES.
        let present = [0, 500, 500, 500, 500, 500, 500];
        let totals = [2, 1000, 1000, 1000, 1000, 1000, 1000];
        let r = presence_by_group(&present, &totals).unwrap();
        assert!(r.expected_min < MIN_EXPECTED);
        assert_eq!(r.test, Test::PearsonFallback);
        assert_eq!(r.exact_p, None);
        assert_eq!(r.p, r.p_pearson);
    }

    #[test]
    fn exact_test_handles_large_margins_with_few_tables() {
        // A rare theme in big groups: few tables, huge binomials; the
        // weights must stay finite in log space. First row is the smaller.
        let r = presence_by_group(&[3, 0], &[100_000, 100_000]).unwrap();
        assert_eq!(r.test, Test::FreemanHalton);
        // Tables (0,3),(3,0) have probability 1/8 each, (1,2),(2,1) 3/8:
        // p = 2/8 up to the tiny difference between C(N,x) ratios.
        assert_close!(r.exact_p.unwrap(), 0.25, 1e-4);
        // The same table with rows swapped gives the same p.
        let s = presence_by_group(&[99_997, 100_000], &[100_000, 100_000]).unwrap();
        assert_close!(s.exact_p.unwrap(), r.exact_p.unwrap(), 1e-12);
    }

    #[test]
    fn degenerate_tables() {
        // Invalid input.
        assert_eq!(presence_by_group(&[1, 2], &[3]), None);
        assert_eq!(presence_by_group(&[4, 2], &[3, 3]), None);
        // Fewer than two non-empty groups.
        assert_eq!(presence_by_group(&[], &[]), None);
        assert_eq!(presence_by_group(&[2], &[5]), None);
        assert_eq!(presence_by_group(&[2, 0], &[5, 0]), None);
        // Theme present nowhere / everywhere.
        for present in [[0, 0, 0], [5, 0, 7]] {
            let r = presence_by_group(&present, &[5, 0, 7]).unwrap();
            assert_eq!(r.test, Test::Degenerate);
            assert_eq!(
                (r.chi2, r.p, r.p_pearson, r.cramers_v),
                (0.0, 1.0, 1.0, 0.0)
            );
            assert_eq!(r.df, 1);
            assert_eq!(r.residuals, vec![0.0; 3]);
        }
        // Empty groups are dropped: same statistics as without them, with
        // a 0 residual in the empty group's slot.
        let with = presence_by_group(&[12, 0, 5], &[19, 0, 24]).unwrap();
        let without = presence_by_group(&[12, 5], &[19, 24]).unwrap();
        assert_eq!(with.chi2, without.chi2);
        assert_eq!(with.df, 1);
        assert_eq!(with.p, without.p);
        assert_eq!(
            with.residuals,
            vec![without.residuals[0], 0.0, without.residuals[1]]
        );
    }

    // Holm: hand computation for p = (0.01, 0.04, 0.03, 0.005) (the vector
    // of Wikipedia's "Holm–Bonferroni method" example), and a separate
    // O(m²) Python evaluation of max_{j<=i} min(1, (m-j+1) p(j)) for both
    // vectors. BH: scipy 1.17.1 `false_discovery_control(p)`.
    #[test]
    fn holm_and_bh_match_references() {
        let cases: &[(&[f64], &[f64], &[f64])] = &[
            (
                &[0.01, 0.04, 0.03, 0.005],
                &[0.03, 0.06, 0.06, 0.02],
                &[0.02, 0.04, 0.04, 0.02],
            ),
            (
                &[0.0001, 0.04, 0.03, 0.005, 0.2, 0.8, 0.012, 0.049],
                &[0.0008, 0.16, 0.15, 0.035, 0.4, 0.8, 0.072, 0.16],
                &[
                    0.0008,
                    0.064,
                    0.06,
                    0.02,
                    0.22857142857142856,
                    0.8,
                    0.032,
                    0.06533333333333333,
                ],
            ),
            (&[0.9, 0.6], &[1.0, 1.0], &[0.9, 0.9]),
            (&[], &[], &[]),
        ];
        for &(p, want_holm, want_bh) in cases {
            for (got, want) in holm(p).iter().zip(want_holm) {
                assert_close!(*got, *want, 1e-12);
            }
            for (got, want) in benjamini_hochberg(p).iter().zip(want_bh) {
                assert_close!(*got, *want, 1e-12);
            }
            assert_eq!(holm(p).len(), p.len());
            assert_eq!(benjamini_hochberg(p).len(), p.len());
        }
    }

    #[test]
    fn p_adjust_skips_nan() {
        // NaN stays NaN and is not counted in m: same as adjusting the
        // four non-NaN values alone (m = 4).
        let p = [0.01, f64::NAN, 0.04, 0.03, 0.005];
        let h = holm(&p);
        let b = benjamini_hochberg(&p);
        assert!(h[1].is_nan() && b[1].is_nan());
        let h4 = holm(&[0.01, 0.04, 0.03, 0.005]);
        let b4 = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005]);
        assert_eq!([h[0], h[2], h[3], h[4]], h4[..]);
        assert_eq!([b[0], b[2], b[3], b[4]], b4[..]);
    }

    // Cohen's kappa: the worked example of Wikipedia "Cohen's kappa"
    // (20 yes/yes, 5 and 10 disagreements, 15 no/no): p_o = 0.7,
    // p_e = 0.5, kappa = 0.4, checked by hand.
    #[test]
    fn confusion_measures() {
        let c = Confusion {
            both: 20,
            auto_only: 5,
            human_only: 10,
            neither: 15,
        };
        assert_eq!(c.n(), 50);
        assert_close!(c.agreement().unwrap(), 0.7, 1e-15);
        assert_close!(c.cohen_kappa().unwrap(), 0.4, 1e-14);
        assert_close!(c.precision().unwrap(), 20.0 / 25.0, 1e-15);
        assert_close!(c.recall().unwrap(), 20.0 / 30.0, 1e-15);
        assert_close!(c.f1().unwrap(), 40.0 / 55.0, 1e-15);
        assert_close!(c.prevalence_auto().unwrap(), 0.5, 1e-15);
        assert_close!(c.prevalence_human().unwrap(), 0.6, 1e-15);

        let empty = Confusion::default();
        assert_eq!(empty.agreement(), None);
        assert_eq!(empty.cohen_kappa(), None);
        assert_eq!(empty.f1(), None);
        // Neither side ever codes the theme: precision, recall and F1 are
        // 0/0, kappa has p_e = 1.
        let none = Confusion {
            neither: 9,
            ..Confusion::default()
        };
        assert_eq!(none.agreement(), Some(1.0));
        assert_eq!(none.precision(), None);
        assert_eq!(none.recall(), None);
        assert_eq!(none.f1(), None);
        assert_eq!(none.cohen_kappa(), None);
        // Only the human codes it: precision 0/0, recall and F1 0.
        let human = Confusion {
            human_only: 2,
            neither: 3,
            ..Confusion::default()
        };
        assert_eq!(human.precision(), None);
        assert_eq!(human.recall(), Some(0.0));
        assert_eq!(human.f1(), Some(0.0));
        assert_eq!(human.cohen_kappa(), Some(0.0));
    }

    /// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability",
    /// section C: 4 observers × 12 units with missing values. One row per
    /// unit here (the paper prints one row per observer).
    fn krippendorff_2011() -> Vec<Vec<Option<u32>>> {
        let by_observer: [[u32; 12]; 4] = [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, 0, 0, 0],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 0, 3],
            [0, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 0],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, 0],
        ];
        (0..12)
            .map(|u| {
                by_observer
                    .iter()
                    .map(|row| (row[u] != 0).then_some(row[u]))
                    .collect()
            })
            .collect()
    }

    // Nominal alpha = 0.743 in the paper; 0.743421052631579 from the
    // `krippendorff` Python package 0.8 (`alpha(..., "nominal")`).
    #[test]
    fn krippendorff_alpha_reference() {
        let alpha = krippendorff_alpha_nominal(&krippendorff_2011()).unwrap();
        assert_close!(alpha, 0.743421052631579, 1e-12);
    }

    #[test]
    fn krippendorff_alpha_degenerate() {
        assert_eq!(krippendorff_alpha_nominal(&[]), None);
        // Only singleton units: nothing pairable.
        assert_eq!(
            krippendorff_alpha_nominal(&[vec![Some(1), None], vec![None, Some(2)]]),
            None
        );
        // Every value the same: expected disagreement 0.
        assert_eq!(
            krippendorff_alpha_nominal(&[vec![Some(1), Some(1)], vec![Some(1), Some(1)]]),
            None
        );
        // Perfect agreement with variation: alpha = 1.
        assert_eq!(
            krippendorff_alpha_nominal(&[vec![Some(1), Some(1)], vec![Some(2), Some(2)]]),
            Some(1.0)
        );
    }

    // SplitMix64 with seed 1234567: first outputs of Vigna's splitmix64.c,
    // recomputed with a separate Python implementation.
    #[test]
    fn splitmix64_reference_stream() {
        let mut rng = SplitMix64::new(1234567);
        let got: Vec<u64> = (0..5).map(|_| rng.next_u64()).collect();
        assert_eq!(
            got,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423,
                4593380528125082431,
                16408922859458223821,
            ]
        );
        let mut rng = SplitMix64::new(1);
        assert!((0..1000).all(|_| rng.next_below(7) < 7));
    }

    #[test]
    fn bootstrap_is_deterministic() {
        let units = krippendorff_2011();
        let stat = |idx: &[usize]| {
            let sample: Vec<Vec<Option<u32>>> = idx.iter().map(|&i| units[i].clone()).collect();
            krippendorff_alpha_nominal(&sample)
        };
        let a = bootstrap_ci(units.len(), 500, 42, stat).unwrap();
        let b = bootstrap_ci(units.len(), 500, 42, stat).unwrap();
        assert_eq!(a, b);
        assert!(a.0 <= a.1);
        let c = bootstrap_ci(units.len(), 500, 43, stat).unwrap();
        assert_ne!(a, c);
        assert_eq!(bootstrap_ci(0, 10, 1, stat), None);
        assert_eq!(bootstrap_ci(5, 0, 1, stat), None);
        assert_eq!(bootstrap_ci(5, 10, 1, |_| None), None);
    }

    #[test]
    fn bootstrap_percentiles_are_type_7() {
        // Interpolation on a known sorted slice: h = 10 q.
        let v: Vec<f64> = (0..=10).map(f64::from).collect();
        assert_eq!(quantile_sorted(&v, 0.025), 0.25);
        assert_eq!(quantile_sorted(&v, 0.975), 9.75);
        assert_eq!(quantile_sorted(&[3.0], 0.975), 3.0);
        // Constant statistic: both ends equal it.
        assert_eq!(bootstrap_ci(4, 50, 9, |_| Some(2.5)), Some((2.5, 2.5)));
    }
}

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

/// Lanczos coefficients for g = 7, n = 9 (the set published by Godfrey and
/// used by Numerical Recipes' successors and Boost's test data); relative
/// error below 1e-15 for positive arguments.
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
/// Numerical Recipes §6.2. Accurate to about 1e-13 relative in practice.
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
    if count_tables(m, cols) > cap {
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
    Some((quantile_sorted(&values, 0.025), quantile_sorted(&values, 0.975)))
}

/// Type-7 quantile of a sorted, non-empty slice.
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

//! Amounts are `domain::Cents`, as the banks keep them; forms get them as a client types them
//! (`Cents::to_input`: `1234,56`).

use domain::Cents;

/// What each account is funded with before the workload: R$ 1.000,00.
pub const FUNDING: Cents = Cents::new(100_000);

/// A random amount from R$ 0,01 to `max_cents` cents.
pub fn random_amount(rng: &mut impl rand::Rng, max_cents: i64) -> Cents {
    Cents::new(rng.random_range(1..=max_cents))
}

/// The sum of `amounts`; `None` past what an `i64` of cents holds.
pub fn sum(amounts: impl IntoIterator<Item = Cents>) -> Option<Cents> {
    amounts
        .into_iter()
        .try_fold(Cents::ZERO, |total, c| total.checked_add(c))
}

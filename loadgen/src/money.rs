//! Amounts: whole cents in an `i64`, written the way the banks' forms and the report show them.

/// What each account is funded with before the workload: R$ 1.000,00.
pub const FUNDING_CENTS: i64 = 100_000;

/// `cents` as reais with a decimal comma and no thousands separator: 123456 -> "1234,56".
pub fn brl(cents: i64) -> String {
    format!("{},{:02}", cents / 100, cents % 100)
}

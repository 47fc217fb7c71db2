//! The people a run opens accounts for: their CPFs, names, banks and sign-up e-mails.

pub struct Person {
    pub cpf: String,
    pub name: String,
    /// Bank ids (1..=n) where this person has an account: two, or one for the odd extra row.
    pub banks: Vec<usize>,
}

/// A CPF from its 9 base digits, with its two check digits; `None` where there is none (all
/// digits equal).
fn cpf_from_base(base: u32) -> Option<String> {
    domain::Cpf::completing(base)
        .ok()
        .map(|c| domain::TaxId::Cpf(c).digits())
}

/// `accounts_per_bank` accounts at each of `banks` banks: person k at banks (k mod n)+1 and
/// ((k+1) mod n)+1, plus one person with a single account per bank when the number is odd. CPFs
/// follow from `cpf_start`.
pub fn people(banks: usize, accounts_per_bank: usize, cpf_start: u32) -> Vec<Person> {
    let mut out = Vec::new();
    let mut base = cpf_start;
    let mut next_cpf = || loop {
        base = base.wrapping_add(7_919) % 1_000_000_000;
        if let Some(cpf) = cpf_from_base(base) {
            return cpf; // bases with all digits equal have no valid CPF: skipped
        }
    };
    let pairs = accounts_per_bank / 2;
    for k in 0..banks * pairs {
        out.push(Person {
            cpf: next_cpf(),
            name: format!("Carga {k}"),
            banks: vec![k % banks + 1, (k + 1) % banks + 1],
        });
    }
    if accounts_per_bank % 2 == 1 {
        for b in 1..=banks {
            let k = out.len();
            out.push(Person {
                cpf: next_cpf(),
                name: format!("Carga {k}"),
                banks: vec![b],
            });
        }
    }
    out
}

/// Per bank (index 0..n for ids 1..=n): the people with an account there.
pub fn by_bank(banks: usize, people: &[Person]) -> Vec<Vec<usize>> {
    let mut at_bank = vec![Vec::new(); banks];
    for (i, p) in people.iter().enumerate() {
        for &b in &p.banks {
            at_bank[b - 1].push(i);
        }
    }
    at_bank
}

/// The e-mail a person signs up with at a bank, unique to the run by its tag.
pub fn email(tag: &str, person: usize, bank: usize) -> String {
    format!(
        "carga.{}.{person}.b{bank}@loadgen.example",
        tag.to_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpf_check_digits() {
        assert_eq!(cpf_from_base(529_982_247).as_deref(), Some("52998224725"));
        assert_eq!(cpf_from_base(111_444_777).as_deref(), Some("11144477735"));
    }

    #[test]
    fn people_cover_each_bank_n_times() {
        for (banks, n) in [(5, 2), (5, 3), (5, 10), (5, 11), (2, 3), (20, 4)] {
            let p = people(banks, n, 123_456_789);
            for b in 1..=banks {
                assert_eq!(p.iter().filter(|x| x.banks.contains(&b)).count(), n);
            }
            assert!(p
                .iter()
                .flat_map(|x| &x.banks)
                .all(|&b| (1..=banks).contains(&b)));
            let at = by_bank(banks, &p);
            assert!(at.iter().all(|v| v.len() == n));
            let mut cpfs: Vec<_> = p.iter().map(|x| x.cpf.clone()).collect();
            cpfs.sort();
            cpfs.dedup();
            assert_eq!(cpfs.len(), p.len());
        }
    }
}

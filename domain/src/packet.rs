//! A Pix packet as a client asks for it, checked once: from 1 to [`MAX_PACKET_LEGS`] legs, every
//! bank a member of the consortium, every amount a valid amount. Whoever holds a [`Packet`] knows
//! this holds (parse, don't validate): the browser's builder, the server function and the
//! coordinator all build it with [`Packet::new`].

use crate::dto::PacketLeg;
use crate::money::MAX_OPERATION;
use crate::BankId;
use serde::{Deserialize, Serialize};

/// Most legs in one Pix packet: bounds the work one request can ask of the consortium.
pub const MAX_PACKET_LEGS: usize = 16;

/// A packet's legs, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Packet {
    legs: Vec<PacketLeg>,
}

/// What is wrong with a packet; `leg` counts from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PacketError {
    #[error("packet not of 1 to {MAX_PACKET_LEGS} legs")]
    LegCount,
    #[error("leg {leg}: no bank {bank} in the consortium")]
    UnknownBank { leg: usize, bank: BankId },
    #[error("leg {leg}: amount not positive or above the operation limit")]
    InvalidAmount { leg: usize },
}

impl Packet {
    /// Checks `legs` against the consortium's `members`.
    pub fn new(legs: Vec<PacketLeg>, members: &[BankId]) -> Result<Packet, PacketError> {
        if legs.is_empty() || legs.len() > MAX_PACKET_LEGS {
            return Err(PacketError::LegCount);
        }
        for (leg, l) in legs.iter().enumerate() {
            for bank in [l.source_bank, l.receiver_bank] {
                if !members.contains(&bank) {
                    return Err(PacketError::UnknownBank { leg, bank });
                }
            }
            if l.amount.get() <= 0 || l.amount > MAX_OPERATION {
                return Err(PacketError::InvalidAmount { leg });
            }
        }
        Ok(Packet { legs })
    }

    pub fn legs(&self) -> &[PacketLeg] {
        &self.legs
    }

    pub fn into_legs(self) -> Vec<PacketLeg> {
        self.legs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cents;

    fn bank(n: u16) -> BankId {
        BankId::try_from(n).unwrap()
    }

    fn leg(from: u16, to: u16, cents: i64) -> PacketLeg {
        PacketLeg {
            source_bank: bank(from),
            receiver_key: crate::PixKey::parse("111.444.777-35").unwrap(),
            receiver_bank: bank(to),
            amount: Cents::new(cents),
            message: crate::PixMessage::none(),
        }
    }

    #[test]
    fn a_packet_is_checked_once_against_the_members() {
        let members = [bank(1), bank(2), bank(3)];
        assert_eq!(
            Packet::new(vec![leg(1, 3, 100)], &members)
                .unwrap()
                .legs()
                .len(),
            1
        );
        assert_eq!(Packet::new(vec![], &members), Err(PacketError::LegCount));
        assert_eq!(
            Packet::new(vec![leg(1, 2, 1); MAX_PACKET_LEGS + 1], &members),
            Err(PacketError::LegCount)
        );
        assert_eq!(
            Packet::new(vec![leg(1, 2, 1), leg(1, 9, 1)], &members),
            Err(PacketError::UnknownBank {
                leg: 1,
                bank: bank(9)
            })
        );
        assert_eq!(
            Packet::new(vec![leg(1, 2, 0)], &members),
            Err(PacketError::InvalidAmount { leg: 0 })
        );
        let too_much = MAX_OPERATION.get() + 1;
        assert_eq!(
            Packet::new(vec![leg(1, 2, too_much)], &members),
            Err(PacketError::InvalidAmount { leg: 0 })
        );
        assert_eq!(
            PacketError::UnknownBank {
                leg: 1,
                bank: bank(9)
            }
            .to_string(),
            "leg 1: no bank 9 in the consortium"
        );
    }
}

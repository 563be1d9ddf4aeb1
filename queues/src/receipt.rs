//! Receipts: opaque strings naming one receive of one message.
//!
//! A receipt encodes the queue's incarnation (a random number drawn when the queue was created,
//! so a receipt of a deleted queue never matches its successor of the same name), the message's
//! sequence, the receive count and a random nonce drawn at that receive. The queue accepts a
//! receipt only while the message's current receive has the same count and nonce: once the
//! visibility timeout passed and someone else received the message, the old receipt is stale.
//! The nonce is also what makes receipts unambiguous after a crash that lost the journal's last
//! receive records (the same count may then be handed out again, with another nonce).
//!
//! Layout: `version u8 | incarnation u32 | sequence u64 | count u32 | nonce u32`, little endian,
//! base64url without padding (28 characters).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const VERSION: u8 = 1;
const LEN: usize = 21;

/// A decoded receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The queue's incarnation.
    pub incarnation: u32,
    /// The message.
    pub sequence: u64,
    /// Which receive of it (1 for the first).
    pub count: u32,
    /// Drawn at that receive.
    pub nonce: u32,
}

impl Receipt {
    /// The opaque string.
    pub fn encode(&self) -> String {
        let mut b = [0u8; LEN];
        b[0] = VERSION;
        b[1..5].copy_from_slice(&self.incarnation.to_le_bytes());
        b[5..13].copy_from_slice(&self.sequence.to_le_bytes());
        b[13..17].copy_from_slice(&self.count.to_le_bytes());
        b[17..21].copy_from_slice(&self.nonce.to_le_bytes());
        URL_SAFE_NO_PAD.encode(b)
    }

    /// Reads a receipt; `None` when it is not one.
    pub fn decode(s: &str) -> Option<Receipt> {
        if s.len() != 28 {
            return None;
        }
        let mut b = [0u8; LEN];
        let n = URL_SAFE_NO_PAD.decode_slice(s, &mut b).ok()?;
        if n != LEN || b[0] != VERSION {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&b[5..13]);
        Some(Receipt {
            incarnation: u32_at(1),
            sequence: u64::from_le_bytes(seq),
            count: u32_at(13),
            nonce: u32_at(17),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let r = Receipt {
            incarnation: 7,
            sequence: u64::MAX - 3,
            count: 2,
            nonce: 0xdead_beef,
        };
        let s = r.encode();
        assert_eq!(s.len(), 28);
        assert_eq!(Receipt::decode(&s), Some(r));
        assert_eq!(Receipt::decode(""), None);
        assert_eq!(Receipt::decode("not a receipt at all, no....."), None);
        let mut bad = s.clone();
        bad.replace_range(0..2, "Ag");
        assert_eq!(Receipt::decode(&bad), None);
    }
}

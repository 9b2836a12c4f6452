//! Receipt handles: opaque to the caller, unique per receive. A handle names the queue incarnation
//! (so a handle from another queue, or from a deleted queue of the same name, is rejected), the
//! message, and which receive issued it (FIFO queues only accept the latest one).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::queue::MsgKey;

const VERSION: u8 = 1;
const LEN: usize = 1 + 8 + 8 + 8 + 4 + 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub queue_uid: u64,
    pub key: MsgKey,
    /// The message's receive count when this handle was issued.
    pub receive_count: u32,
    pub nonce: u64,
}

impl Receipt {
    pub fn encode(&self) -> String {
        let mut b = [0u8; LEN];
        b[0] = VERSION;
        b[1..9].copy_from_slice(&self.queue_uid.to_be_bytes());
        b[9..17].copy_from_slice(&self.key.sent.to_be_bytes());
        b[17..25].copy_from_slice(&self.key.id.to_be_bytes());
        b[25..29].copy_from_slice(&self.receive_count.to_be_bytes());
        b[29..37].copy_from_slice(&self.nonce.to_be_bytes());
        STANDARD.encode(b)
    }

    pub fn decode(s: &str) -> Option<Self> {
        // Query-protocol clients that forget to form-encode turn '+' into ' '.
        let fixed;
        let s = if s.contains(' ') {
            fixed = s.replace(' ', "+");
            fixed.as_str()
        } else {
            s
        };
        let b = STANDARD.decode(s).ok()?;
        if b.len() != LEN || b[0] != VERSION {
            return None;
        }
        let u64_at = |i: usize| {
            b.get(i..i + 8)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .map(u64::from_be_bytes)
        };
        let count = b
            .get(25..29)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map(u32::from_be_bytes)?;
        Some(Self {
            queue_uid: u64_at(1)?,
            key: MsgKey {
                sent: u64_at(9)?,
                id: u64_at(17)?,
            },
            receive_count: count,
            nonce: u64_at(29)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let r = Receipt {
            queue_uid: 7,
            key: MsgKey {
                sent: 1_700_000_000_000,
                id: 42,
            },
            receive_count: 3,
            nonce: u64::MAX - 1,
        };
        let s = r.encode();
        assert_eq!(Receipt::decode(&s), Some(r));
        assert_eq!(Receipt::decode(&s.replace('+', " ")), Some(r));
        for bad in ["", "abc", "!!!!", &s[..s.len() - 4], "AQEBzB8n"] {
            assert_eq!(Receipt::decode(bad), None, "{bad}");
        }
    }
}
